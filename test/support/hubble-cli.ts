/**
 * The upstream `hubble` CLI, the test peer of Ciliate's Hubble server: built by the toolchain
 * builder (`cluster/toolchain/build.sh hubble`, cached by version; minutes cold). As with the node
 * images' Go binaries, a run builds it only when CI=true or CILIATE_BUILD_IMAGES=1; otherwise the
 * suites that need it are skipped until it is built.
 */
import { join } from 'node:path';
import { builtToolchain, ensureToolchain } from '../../cluster/toolchain.ts';
import { runCommand, type CommandResult } from './cluster.ts';
import { buildsGoImages } from './node-images.ts';

let bin: string | undefined;

/** The `hubble` binary's path, building it when this run builds Go binaries; undefined: skip. */
export async function ensureHubbleCli(): Promise<string | undefined> {
  const dir = (await builtToolchain('hubble')) ?? (buildsGoImages() ? await ensureToolchain(undefined, 'hubble') : undefined);
  bin = dir ? join(dir, 'hubble') : undefined;
  return bin;
}

/** Why the Hubble CLI suites skip. */
export const HUBBLE_SKIP_REASON = 'the hubble CLI is not built yet (minutes: run `bash cluster/toolchain/build.sh hubble` or set CILIATE_BUILD_IMAGES=1)';

/** The `hubble` binary's path (after {@link ensureHubbleCli} found it). */
export function hubbleCli(): string {
  if (!bin) throw new Error('ensureHubbleCli() first');
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
