/**
 * The upstream `hubble` CLI, the test peer of Ciliate's Hubble server: built by the toolchain
 * builder (`cluster/toolchain/build.sh hubble`, cached by version; about 4 minutes cold).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runCommand, type CommandResult } from './cluster.ts';

let bin: string | undefined;

/** The path of the `hubble` binary, building it on first use. */
export function hubbleCli(): string {
  bin ??= join(execFileSync('bash', [join(import.meta.dirname, '..', '..', 'cluster', 'toolchain', 'build.sh'), 'hubble'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  }).trim(), 'hubble');
  return bin;
}

/** Runs `hubble ARGS --server unix://SOCKET`; never throws on a non-zero exit. */
export function hubble(socket: string, args: string[]): Promise<CommandResult> {
  return runCommand(hubbleCli(), [...args, '--server', `unix://${socket}`], { HUBBLE_CONFIG: '/dev/null' });
}

/** The JSON lines of `hubble observe -o json`. */
export function jsonLines<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}
