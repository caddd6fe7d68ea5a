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

/** One kind of mount the node may lack: how to tell it is there, how to make it, and the setting named on failure. */
interface MountKind {
  setting: string;
  what: string;
  present: (path: string) => boolean;
  args: (path: string) => string[];
}

const BPFFS: MountKind = { setting: 'bpf-root', what: 'a BPF filesystem', present: onBpffs, args: (p) => ['-t', 'bpf', 'bpf', p] };
const CGROUP2: MountKind = { setting: 'cgroup-root', what: 'a cgroup v2 hierarchy', present: isCgroup2Dir, args: (p) => ['-t', 'cgroup2', 'none', p] };

/** Mounts `kind` at `path` unless it is there; throws naming the setting when that fails. */
async function ensureMount(kind: MountKind, path: string, mount: Mounter): Promise<MountOutcome> {
  if (kind.present(path)) return 'present';
  try {
    mkdirSync(path, { recursive: true });
    await mount(kind.args(path));
  } catch (err) {
    throw new Error(`${kind.setting}: cannot mount ${kind.what} at ${path}: ${(err as Error).message.trim()}`, { cause: err });
  }
  if (!kind.present(path)) throw new Error(`${kind.setting}: ${path} still lacks ${kind.what} after mounting one`);
  return 'mounted';
}

/** Mounts a BPF filesystem at `path` unless it is on one. */
export function ensureBpffs(path: string, mount: Mounter = mountCommand): Promise<MountOutcome> {
  return ensureMount(BPFFS, path, mount);
}

/** Mounts a cgroup v2 hierarchy at `path` unless it is one. */
export function ensureCgroup2(path: string, mount: Mounter = mountCommand): Promise<MountOutcome> {
  return ensureMount(CGROUP2, path, mount);
}
