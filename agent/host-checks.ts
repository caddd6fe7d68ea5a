/**
 * What the agent checks on its host before it starts: that `bpf-root` is on a BPF filesystem (its
 * pins would not survive otherwise), that the kernel loads its datapath, and whether `cgroup-root`
 * is a cgroup v2 directory (socket-level service translation attaches there). Mounting either is node setup, left to the node: the agent
 * only reports.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../runtime/settings.ts';

/**
 * A node lacking what the agent needs, found before the agent touches anything there (no BPF
 * filesystem at `bpf-root`, no device holding the node's address): the agent reports it and holds
 * (agent/node-setup/unusable-node.ts) rather than exiting into a restart loop.
 */
export class NodeUnusableError extends ConfigError {
  /** An error about what the node lacks for `setting` (`kernel`: the kernel itself); the message is `<setting>: <detail>`. */
  constructor(setting: string, detail: string) {
    super(setting, detail);
    this.message = `${setting}: ${detail}`;
  }
}

/**
 * Throws a {@link NodeUnusableError} naming `kernel` unless the kernel takes Ciliate's endpoint
 * datapath: `load` loads it once (its programs through the verifier, its map types, unpinned and
 * with small maps) and releases it. A kernel missing a program type, helper or map type the
 * datapath uses, or a process without the privileges to load BPF, is found here, before the agent
 * changes anything on the node.
 */
export function requireDatapathSupport(load: () => void): void {
  try {
    load();
  } catch (err) {
    throw new NodeUnusableError('kernel', `the kernel refused Ciliate's endpoint datapath: ${(err as Error).message.trim()}`);
  }
}

/** statfs f_type of a BPF filesystem. */
const BPF_FS_MAGIC = 0xcafe4a11;
/** statfs f_type of a cgroup v2 hierarchy. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The filesystem type of `path`, or of its nearest existing ancestor. */
function fsTypeOf(path: string): number {
  for (let p = path; ; p = dirname(p)) {
    try {
      return statfsSync(p).type;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw err;
    }
  }
}

/** Whether `path` (or, while it does not exist yet, the folder it would be made in) is on bpffs. */
export function onBpffs(path: string): boolean {
  return fsTypeOf(path) === BPF_FS_MAGIC;
}

/** Throws a {@link NodeUnusableError} naming `bpf-root` unless `path` is on a BPF filesystem. */
export function requireBpffs(path: string): void {
  if (!onBpffs(path)) throw new NodeUnusableError('bpf-root', `${path} is not a BPF filesystem (mount -t bpf bpf ${path} on the host, or let the chart do it: bpf.autoMount.enabled)`);
}

/** Whether `path` exists and is a cgroup v2 directory. */
export function isCgroup2Dir(path: string): boolean {
  try {
    return statfsSync(path).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}
