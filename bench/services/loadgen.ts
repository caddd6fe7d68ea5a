/**
 * The services bench's load generator (loadgen.c): compiled with gcc into a temporary folder, its
 * server started inside a network namespace, its clients run there pinned to a CPU.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { joinCgroupArgv } from '../../cluster/cgroup.ts';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const SOURCE = join(import.meta.dirname, 'loadgen.c');

/** The two client modes: connect/request/response/close, and request/response on one connection. */
export type LoadMode = 'crr' | 'rr';

/** What one client run measured against one target. */
export interface TargetResult {
  /** `ip:port`. */
  target: string;
  ops: number;
  /** Time spent on this target's operations (the targets take turns). */
  busy_s: number;
  /** Connections (crr) or transactions (rr) per second of the target's own time. */
  rate: number;
  p50_us: number;
  p99_us: number;
  failures: number;
}

/** What one client run measured (loadgen.c's JSON line). */
export interface LoadResult {
  mode: LoadMode;
  seconds: number;
  /** The client's own CPU time (user + system) while counting. */
  cpu_s: number;
  targets: TargetResult[];
}

/** Compiles loadgen.c into `dir`; returns the binary's path. */
export async function buildLoadgen(dir: string): Promise<string> {
  const bin = join(dir, 'svcbench-loadgen');
  await execFileAsync('gcc', ['-O2', '-Wall', '-o', bin, SOURCE]);
  return bin;
}

/** The command line of a server on `port` pinned to `cpu` (as a pod's command, or for {@link spawnInNetns}). */
export function serverCommand(bin: string, port: number, cpu: number): string[] {
  return ['taskset', '-c', String(cpu), bin, 'server', String(port)];
}

/** Starts `command` inside the network namespace at `netnsPath` (nsenter keeps /sys/fs/bpf visible). */
export function spawnInNetns(netnsPath: string, command: string[]): ChildProcess {
  return spawn('nsenter', [`--net=${netnsPath}`, '--', ...command], { stdio: 'ignore' });
}

/**
 * Runs one client in the namespace at `netnsPath`, pinned to `cpu`, for `seconds`, taking turns
 * operation by operation between `targets` (`ip:port` each); inside `cgroupProcs`'s cgroup when given.
 */
export async function runClient(bin: string, netnsPath: string, cpu: number, mode: LoadMode, targets: string[], seconds: number, cgroupProcs?: string): Promise<LoadResult> {
  // In the node's cgroup when it has one, as a pod's own process is (socket-level service translation).
  const [cmd, ...args] = [...joinCgroupArgv(cgroupProcs), 'nsenter', `--net=${netnsPath}`, '--', 'taskset', '-c', String(cpu), bin, mode, String(seconds), ...targets];
  const { stdout } = await execFileAsync(cmd!, args).catch((err: { stdout?: string }) => {
    if (err.stdout?.trim()) return { stdout: err.stdout }; // a target without a successful operation: the JSON line says which
    throw err;
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as LoadResult;
}
