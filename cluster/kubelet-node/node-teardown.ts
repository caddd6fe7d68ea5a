/**
 * Removing a real node without leaving anything behind, even after a crash: the runtime shims and
 * containers of its containerd, its mount namespace or the mounts under its folder (overlay roots,
 * shm, network namespaces, kubelet's volumes and the bind mount of its root), its cgroups, and the files
 * containerd and kubelet keep in machine-wide folders for its pods.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../runtime/exec.ts';
import { removeNodeMountNs } from './mount-ns.ts';
import { removeNodeCgroups } from './node-cgroups.ts';
import { runtimePaths } from './paths.ts';

/** Where containerd's CNI library caches each sandbox's ADD result (machine-wide). */
const CNI_RESULTS = '/var/lib/cni/results';
/** Where kubelet links every container's log (machine-wide). */
const CONTAINER_LOG_LINKS = '/var/log/containers';

/** Pids of the containerd shims serving the runtime whose socket is `socket`. */
export function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.includes('containerd-shim')) continue;
    const i = argv.indexOf('-address');
    if (i >= 0 && argv[i + 1] === socket) pids.push(Number(e));
  }
  return pids;
}

/** Mount points at or under `dir`, deepest first (from this process's mount table). */
export function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => unescape(l.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** The ids of the pod sandboxes the node's containerd has recorded. */
function sandboxIds(containerdRoot: string): string[] {
  const dir = join(containerdRoot, 'io.containerd.grpc.v1.cri', 'sandboxes');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Stops everything a real node left running and removes its mounts, cgroups and machine-wide files. */
export async function teardownNodeRuntime(node: string, nodeDir: string): Promise<void> {
  const p = runtimePaths(nodeDir);
  for (const pid of shimPids(p.containerdSocket)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await removeNodeCgroups(node);
  // With its processes gone, the node's own mount namespace (if it has one) goes with every mount in it.
  await removeNodeMountNs(node);
  for (const m of mountsUnder(nodeDir)) await run('umount', ['-l', m]).catch(() => undefined);
  const sandboxes = sandboxIds(p.containerdRoot);
  if (existsSync(CNI_RESULTS)) {
    for (const f of readdirSync(CNI_RESULTS)) if (sandboxes.some((id) => f.includes(`-${id}-`))) rmSync(join(CNI_RESULTS, f), { force: true });
  }
  if (existsSync(CONTAINER_LOG_LINKS)) {
    for (const f of readdirSync(CONTAINER_LOG_LINKS)) {
      const link = join(CONTAINER_LOG_LINKS, f);
      try {
        if (readlinkSync(link).startsWith(p.podLogs)) rmSync(link, { force: true });
      } catch {
        // not a link
      }
    }
  }
  for (const dir of [CNI_RESULTS, CONTAINER_LOG_LINKS, '/run/containerd/s', '/run/containerd']) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty (another runtime uses it) or gone
    }
  }
}
