/**
 * A containerd of a test's own: root, state, socket, runc state and IO FIFOs in a temporary folder,
 * the CRI plugin configured as real nodes configure it (restrict_oom_score_adj, stream server on
 * loopback). stop() kills it, unmounts what it mounted under that folder and removes the folder, the
 * cgroups of containers it ran and the shared folders containerd made in /run, if this run made them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type CommandResult } from './cluster.ts';
import { containerdConfig } from '../../cluster/kubelet-node/containerd-config.ts';
import { DEBIAN_CNI_DIR } from '../../cluster/kubelet-node/node-files.ts';
import type { RuntimePaths } from '../../cluster/kubelet-node/paths.ts';

/** A running throwaway containerd. */
export interface ThrowawayContainerd {
  dir: string;
  socket: string;
  /** Runs `ctr --address <socket> -n k8s.io ARGS...`. */
  ctr(args: string[]): Promise<CommandResult>;
  /** Runs `cmd` in a new container of `image` (removed afterwards), without network. */
  runContainer(image: string, cmd: string[]): Promise<CommandResult>;
  stop(): Promise<void>;
}

/** Folders containerd 1.6 makes outside its configured ones: the shim sockets' and ctr's default FIFOs'. */
const SHARED_RUN_DIRS = ['/run/containerd/s', '/run/containerd/fifo', '/run/containerd'];
const CGROUP_ROOT = '/sys/fs/cgroup';

/** Starts a containerd in a new temporary folder and waits for its socket. */
export async function startThrowawayContainerd(): Promise<ThrowawayContainerd> {
  const dir = mkdtempSync(join(tmpdir(), 'ctrd-'));
  const socket = join(dir, 'containerd.sock');
  const cgroupParent = `/${dir.split('/').pop()}`;
  const preexisting = new Set(SHARED_RUN_DIRS.filter((d) => existsSync(d)));
  for (const d of ['root', 'state', 'opt', 'runc', 'fifo', 'cni']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'config.toml'), config(dir, socket));
  const child = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  let containers = 0;
  const ctr = (args: string[]) => runCommand('ctr', ['--address', socket, '-n', 'k8s.io', ...args]);
  const handle: ThrowawayContainerd = {
    dir,
    socket,
    ctr,
    runContainer: (image, cmd) => {
      const id = `c${++containers}`;
      return ctr(['run', '--rm', '--runc-root', join(dir, 'runc'), '--fifo-dir', join(dir, 'fifo'), '--cgroup', `${cgroupParent}/${id}`, image, id, ...cmd]);
    },
    stop: () => stop(child, dir, cgroupParent, preexisting),
  };
  for (let i = 0; i < 100 && !existsSync(socket); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!existsSync(socket)) {
    await handle.stop();
    throw new Error(`containerd did not start:\n${log}`);
  }
  return handle;
}

/** The configuration real nodes use (cluster/kubelet-node/containerd-config.ts), in this folder. */
function config(dir: string, socket: string): string {
  const paths: RuntimePaths = {
    containerdRoot: join(dir, 'root'), containerdState: join(dir, 'state'), containerdConfig: join(dir, 'config.toml'),
    containerdSocket: socket, runcRoot: join(dir, 'runc'), cniBinDir: DEBIAN_CNI_DIR,
    kubeletRoot: join(dir, 'kubelet'), kubeletConfig: join(dir, 'kubelet.yaml'), podLogs: join(dir, 'pod-logs'),
  };
  return containerdConfig(paths, join(dir, 'cni'));
}

async function stop(child: ChildProcess, dir: string, cgroupParent: string, preexisting: Set<string>): Promise<void> {
  await killAndWait(child);
  for (const pid of processesMentioning(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const mount of mountsUnder(dir)) await runCommand('umount', [mount]);
  rmSync(dir, { recursive: true, force: true });
  // Containers' own processes (a command that never ended, a test that timed out) do not name the
  // folder: they are found, and killed, by the cgroups this containerd put them in.
  for (const hierarchy of readdirSync(CGROUP_ROOT)) await removeCgroupTree(join(CGROUP_ROOT, hierarchy, cgroupParent));
  for (const d of SHARED_RUN_DIRS) if (!preexisting.has(d)) removeEmptyDir(d);
}

/** Kills every process in the cgroup at `path` and below, then removes its folders, deepest first. */
async function removeCgroupTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(join(path, entry.name));
  }
  const procs = () => {
    try {
      return readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  for (let i = 0; i < 50 && procs().length > 0; i++) {
    for (const pid of procs()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  removeEmptyDir(path);
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Shims and containers still running for this containerd (their command lines name its folder). */
function processesMentioning(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Mount points under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function removeEmptyDir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // missing, or still in use by someone else
  }
}
