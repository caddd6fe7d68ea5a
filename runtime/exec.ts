/** Runs short helper commands (ip, iptables, openssl) and fails with their stderr. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command and returns its stdout; throws an error naming the command and its stderr. */
export async function run(cmd: string, args: string[], opts: { input?: string; cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  try {
    const child = execFileAsync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
    if (opts.input !== undefined) {
      child.child.stdin?.end(opts.input);
    }
    const { stdout } = await child;
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}
