/**
 * A node's own mount namespace, for nodes whose Ciliate runs as pods (`up --install helm`): the
 * chart's hostPath volumes (/etc/cni/net.d, /opt/cni/bin, /var/run/cilium, /sys/fs/bpf,
 * /run/cilium/cgroupv2, ...) name machine-wide paths, which several nodes on one machine would share
 * and which belong to the machine. So each such node's containerd and kubelet run in a mount
 * namespace (kept alive by a bind mount at /run/ciliate/mnt/<node>) where those paths are the node's
 * own folders, /sys/fs/bpf is a BPF filesystem of its own (or, for a node made to lack one, an
 * empty tmpfs: a host without a BPF filesystem), and /run/cilium/cgroupv2 is the node's cgroup v2
 * directory. The namespace starts as a slave of the machine's (the machine's mounts show
 * in it, nothing mounted in it shows on the machine) and is then made shared inside, so kubelet's
 * HostToContainer and Bidirectional volume propagation work between the node and its pods.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../runtime/exec.ts';

/** Where each node's mount namespace is kept (a private mount, as bind mounts of namespaces need). */
export const MOUNT_NS_ROOT = '/run/ciliate/mnt';
/** The machine folders `up` had to make as mount points (removed when the last node namespace goes). */
const CREATED_RECORD = '/run/ciliate/mnt-points.json';

/** The file holding node `node`'s mount namespace. */
export function nodeMountNs(node: string): string {
  return join(MOUNT_NS_ROOT, node);
}

/** Each machine path a node gets its own copy of, and the folder under the node's folder that backs it. */
export const NODE_HOST_DIRS: readonly (readonly [string, string])[] = [
  ['/etc/cni/net.d', 'host/etc/cni/net.d'],
  ['/opt/cni/bin', 'host/opt/cni/bin'],
  ['/run/cilium', 'host/run/cilium'],
  ['/run/netns', 'host/run/netns'],
  ['/run/containerd', 'host/run/containerd'],
  ['/var/lib/cni', 'host/var/lib/cni'],
  ['/var/log/pods', 'host/var/log/pods'],
  ['/var/log/containers', 'host/var/log/containers'],
];

/** The node's folder backing machine path `hostPath` (one of {@link NODE_HOST_DIRS}). */
export function nodeHostDir(nodeDir: string, hostPath: string): string {
  const entry = NODE_HOST_DIRS.find(([h]) => h === hostPath);
  if (!entry) throw new Error(`${hostPath} is not one of a node's own folders`);
  return join(nodeDir, entry[1]);
}

/** Whether `dir` is a mount point in this process's mount namespace. */
function isMountPoint(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

/** Makes the mount points this machine lacks, recording which were made. */
function ensureMountPoints(paths: string[]): void {
  const made = new Set<string>(existsSync(CREATED_RECORD) ? (JSON.parse(readFileSync(CREATED_RECORD, 'utf8')) as string[]) : []);
  for (const p of paths) {
    if (existsSync(p)) continue;
    // The deepest missing ancestor is what a later cleanup removes (with what it holds, all empty).
    let top = p;
    while (!existsSync(join(top, '..'))) top = join(top, '..');
    mkdirSync(p, { recursive: true });
    made.add(top);
  }
  writeFileSync(CREATED_RECORD, JSON.stringify([...made]) + '\n');
}

/**
 * Creates node `node`'s mount namespace: the node's folders over {@link NODE_HOST_DIRS}, a BPF
 * filesystem of its own at /sys/fs/bpf (an empty tmpfs there when `bpffs` is false), `cgroupDir`
 * at /run/cilium/cgroupv2, then shared inside.
 */
export async function createNodeMountNs(node: string, nodeDir: string, cgroupDir: string | undefined, bpffs = true): Promise<void> {
  await removeNodeMountNs(node);
  mkdirSync(MOUNT_NS_ROOT, { recursive: true });
  if (!isMountPoint(MOUNT_NS_ROOT)) {
    await run('mount', ['--bind', MOUNT_NS_ROOT, MOUNT_NS_ROOT]);
    await run('mount', ['--make-private', MOUNT_NS_ROOT]);
  }
  ensureMountPoints(NODE_HOST_DIRS.map(([h]) => h));
  const file = nodeMountNs(node);
  writeFileSync(file, '');
  await run('unshare', [`--mount=${file}`, '--propagation', 'slave', 'true']);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = ['set -e'];
  for (const [hostPath, own] of NODE_HOST_DIRS) {
    const src = join(nodeDir, own);
    mkdirSync(src, { recursive: true });
    script.push(`mount --bind ${q(src)} ${q(hostPath)}`);
  }
  script.push(bpffs ? 'mount -t bpf bpf /sys/fs/bpf' : 'mount -t tmpfs -o size=64k,mode=0755 ciliate-no-bpffs /sys/fs/bpf');
  if (cgroupDir) script.push('mkdir -p /run/cilium/cgroupv2', `mount --bind ${q(cgroupDir)} /run/cilium/cgroupv2`);
  script.push('mount --make-rshared /');
  await run('nsenter', [`--mount=${file}`, '--', 'sh', '-c', script.join('\n')]);
}

/**
 * Releases node `node`'s mount namespace (its processes must be gone: with them and this bind
 * mount, the namespace and every mount in it go). The last node out removes the shared folder and
 * the machine mount points `up` made.
 */
export async function removeNodeMountNs(node: string): Promise<void> {
  const file = nodeMountNs(node);
  if (!existsSync(file)) return;
  await run('umount', [file]).catch(() => run('umount', ['-l', file]).catch(() => undefined));
  rmSync(file, { force: true });
  if (readdirSync(MOUNT_NS_ROOT).length > 0) return;
  await run('umount', [MOUNT_NS_ROOT]).catch(() => undefined);
  rmSync(MOUNT_NS_ROOT, { recursive: true, force: true });
  if (!existsSync(CREATED_RECORD)) return;
  for (const top of JSON.parse(readFileSync(CREATED_RECORD, 'utf8')) as string[]) removeEmptyTree(top);
  rmSync(CREATED_RECORD, { force: true });
}

/** Removes `dir` if it holds nothing but empty folders. */
function removeEmptyTree(dir: string): void {
  try {
    for (const e of readdirSync(dir)) removeEmptyTree(join(dir, e));
    rmdirSync(dir);
  } catch {
    // not empty, a mount point, or gone
  }
}
