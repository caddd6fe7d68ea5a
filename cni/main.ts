/** Entry point of the `ciliate-cni` executable: stdin and environment in, JSON and exit code out. */
import { runPlugin } from './plugin.ts';

/** Reads all of stdin. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const outcome = await runPlugin(process.env, await readStdin());
process.stdout.write(outcome.stdout, () => process.exit(outcome.exitCode));
