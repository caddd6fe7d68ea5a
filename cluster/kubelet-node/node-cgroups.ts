/**
 * A real node's cgroup root: kubelet's `cgroupRoot` (`/<node>`) made in every cgroup hierarchy of
 * this machine (the v1 controllers and the unified v2 one), and removed with everything under it.
 * Processes still in it when the node goes are killed first, so nothing of a node outlives `down`.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCgroupRoot } from './paths.ts';

/** Mount points of every cgroup hierarchy (v1 and v2) on this machine. */
export function cgroupMounts(): string[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n').flatMap((l) => {
    const [, mnt, type] = l.split(' ');
    return (type === 'cgroup' || type === 'cgroup2') && mnt?.startsWith('/sys/fs/cgroup') ? [mnt] : [];
  });
}

/** Makes the node's cgroup root in every hierarchy (cpuset gets its parent's cpus and mems). */
export function createNodeCgroups(node: string): void {
  for (const mnt of cgroupMounts()) {
    const dir = join(mnt, nodeCgroupRoot(node));
    mkdirSync(dir, { recursive: true });
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const own = join(dir, f);
      if (existsSync(own) && readFileSync(own, 'utf8').trim() === '') writeFileSync(own, readFileSync(join(mnt, f)));
    }
  }
}

/** Every cgroup directory under `dir`, deepest first, `dir` last. */
function subtree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const child = join(dir, e);
    if (statSync(child).isDirectory()) out.push(...subtree(child));
  }
  out.push(dir);
  return out;
}

/** The processes in the node's cgroup root, in any hierarchy. */
export function nodeCgroupPids(node: string): number[] {
  const pids = new Set<number>();
  for (const mnt of cgroupMounts()) {
    const root = join(mnt, nodeCgroupRoot(node));
    if (!existsSync(root)) continue;
    for (const dir of subtree(root)) {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
    }
  }
  return [...pids];
}

/** Kills every process in the node's cgroups, then removes them; returns the directories it could not remove. */
export async function removeNodeCgroups(node: string): Promise<string[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = nodeCgroupPids(node);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const left: string[] = [];
  for (const mnt of cgroupMounts()) {
    const root = join(mnt, nodeCgroupRoot(node));
    if (!existsSync(root)) continue;
    for (const dir of subtree(root)) {
      try {
        rmdirSync(dir);
      } catch {
        left.push(dir);
      }
    }
  }
  return left;
}
