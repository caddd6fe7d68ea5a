/**
 * A cgroup v2 directory per node, for socket-level service translation: the agent attaches its
 * connect/sendmsg programs there and the node runner starts every container inside it. This
 * machine's processes sit at the root of the v2 hierarchy (their controllers are v1), where a program
 * would translate everything; so the cluster mounts the hierarchy at /run/ciliate/cgroup/<cluster>
 * (no controllers are enabled, so nothing about resource accounting changes), makes a directory per
 * node, and removes both on `down`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../runtime/exec.ts';

/** Where a cluster's cgroup v2 hierarchy is mounted. */
export function clusterCgroupRoot(cluster: string): string {
  return join('/run/ciliate/cgroup', cluster);
}

/** A node's cgroup v2 directory (names carry the cluster, so clusters sharing the hierarchy never collide). */
export function nodeCgroup(cluster: string, node: string): string {
  return join(clusterCgroupRoot(cluster), node);
}

/** Whether `dir` is a cgroup v2 mount point. */
function isCgroup2Mount(dir: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => {
    const [, mnt, type] = l.split(' ');
    return mnt === dir && type === 'cgroup2';
  });
}

/** Mounts the cluster's hierarchy if needed and makes the node's directory; undefined when cgroup v2 is unavailable. */
export async function ensureNodeCgroup(cluster: string, node: string): Promise<string | undefined> {
  const root = clusterCgroupRoot(cluster);
  mkdirSync(root, { recursive: true });
  if (!isCgroup2Mount(root)) {
    try {
      await run('mount', ['-t', 'cgroup2', 'none', root]);
    } catch {
      return undefined;
    }
  }
  const dir = nodeCgroup(cluster, node);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The `cgroup.procs` file of a node's cgroup directory, when it exists (the runner and `ciliate exec` join it). */
export function cgroupProcs(dir: string | undefined): string | undefined {
  const procs = dir ? join(dir, 'cgroup.procs') : undefined;
  return procs && existsSync(procs) ? procs : undefined;
}

/** Removes the cluster's node directories and unmounts its hierarchy (its processes must be gone). */
export async function removeClusterCgroup(cluster: string): Promise<void> {
  const root = clusterCgroupRoot(cluster);
  if (!existsSync(root)) return;
  if (isCgroup2Mount(root)) {
    for (const d of readdirSync(root)) {
      const path = join(root, d);
      if (d.startsWith(`${cluster}-n`) && statSync(path).isDirectory()) {
        try {
          rmdirSync(path);
        } catch {
          /* a straggler process still in it; the unmount below leaves the directory to the hierarchy */
        }
      }
    }
    await run('umount', [root]).catch(() => run('umount', ['-l', root]));
  }
  for (const dir of [root, dirname(root), dirname(dirname(root))]) {
    try {
      rmdirSync(dir);
    } catch {
      break; // still mounted, or another cluster's hierarchy is there
    }
  }
}

/** The argv prefix that puts the command into `procs` (a cgroup.procs file) before it starts. */
export function joinCgroupArgv(procs: string | undefined): string[] {
  return procs ? ['sh', '-c', 'echo $$ > "$0" && exec "$@"', procs] : [];
}
