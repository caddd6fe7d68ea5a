/**
 * Node setup before the agent starts (the agent pod's init containers, as upstream's
 * `mount-bpf-fs` and `mount-cgroup`): a BPF filesystem at `bpf-root` and a cgroup v2 hierarchy at
 * `cgroup-root`, each mounted only where the node lacks one. The mounts are made in the pod's view
 * of the node's folders; with Bidirectional propagation on those volumes they are the node's.
 */
import { mkdirSync } from 'node:fs';
import { run } from '../../runtime/exec.ts';
import { isCgroup2Dir, onBpffs } from '../host-checks.ts';

/** What a mount step did. */
export type MountOutcome = 'present' | 'mounted';

/** Runs `mount` (the image's util-linux). */
export type Mounter = (args: string[]) => Promise<unknown>;

const mountCommand: Mounter = (args) => run('mount', args);

/** Mounts a BPF filesystem at `path` unless it is on one; throws naming `bpf-root` when that fails. */
export async function ensureBpffs(path: string, mount: Mounter = mountCommand): Promise<MountOutcome> {
  if (onBpffs(path)) return 'present';
  mkdirSync(path, { recursive: true });
  try {
    await mount(['-t', 'bpf', 'bpf', path]);
  } catch (err) {
    throw new Error(`bpf-root: cannot mount a BPF filesystem at ${path}: ${(err as Error).message.trim()}`, { cause: err });
  }
  if (!onBpffs(path)) throw new Error(`bpf-root: ${path} is still not on a BPF filesystem after mounting one`);
  return 'mounted';
}

/** Mounts a cgroup v2 hierarchy at `path` unless it is one; throws naming `cgroup-root` when that fails. */
export async function ensureCgroup2(path: string, mount: Mounter = mountCommand): Promise<MountOutcome> {
  if (isCgroup2Dir(path)) return 'present';
  mkdirSync(path, { recursive: true });
  try {
    await mount(['-t', 'cgroup2', 'none', path]);
  } catch (err) {
    throw new Error(`cgroup-root: cannot mount a cgroup v2 hierarchy at ${path}: ${(err as Error).message.trim()}`, { cause: err });
  }
  if (!isCgroup2Dir(path)) throw new Error(`cgroup-root: ${path} is still not a cgroup v2 directory after mounting one`);
  return 'mounted';
}
