/**
 * A pod's containers as host processes: each container's `command` + `args` is started (inside
 * the pod's network namespace through nsenter, or directly for host-network pods) in its own
 * process group, with the pod spec's environment, output appended to a log file per container.
 * Images are ignored: the command must name a binary that exists on the host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { joinCgroupArgv } from '../cluster/cgroup.ts';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';

/** One run of one container. */
export interface ContainerRun {
  name: string;
  spec: V1Container;
  proc?: ChildProcess;
  pid?: number;
  restartCount: number;
  startedAt?: string;
  /** Set once the current process has exited. */
  exit?: { code: number | null; signal: string | null; finishedAt: string };
  /** The previous run's exit, for lastState. */
  lastExit?: { code: number | null; signal: string | null; startedAt: string; finishedAt: string };
  /** When a restart is due (ms since epoch). */
  restartAt?: number;
  restartTimer?: NodeJS.Timeout;
  /** Why the container could not start at all. */
  waitingReason?: string;
}

/**
 * The environment of a container: a base PATH/HOSTNAME, the Service variables of the pod's start
 * (`services`, unless `enableServiceLinks` is false), then the spec's `env` (values and simple field
 * references), which wins.
 */
export function containerEnv(pod: V1Pod, c: V1Container, podIP: string, hostIP: string, services: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    ...(pod.spec?.enableServiceLinks === false ? {} : services),
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOSTNAME: pod.metadata?.name ?? '',
  };
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name, 'metadata.namespace': pod.metadata?.namespace, 'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName, 'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': podIP, 'status.hostIP': hostIP,
  };
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = expand(e.value, env);
    else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath];
      if (v !== undefined) env[e.name] = v;
    }
  }
  return env;
}

/** Expands `$(VAR)` references to earlier variables, as Kubernetes does; `$$` escapes. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && env[name] !== undefined ? env[name]! : m);
}

/** The argv of a container: its `command` then its `args`, with `$(VAR)` expanded; undefined when it has no command. */
export function containerArgv(c: V1Container, env: Record<string, string>): string[] | undefined {
  if (!c.command?.length) return undefined;
  return [...c.command, ...(c.args ?? [])].map((a) => expand(a, env));
}

/** Starts `run`'s process; `onExit` is called when it ends. Sets waitingReason instead when it has no command. */
export function startContainer(
  run: ContainerRun, opts: { netnsPath?: string; cgroupProcs?: string; env: Record<string, string>; dir: string; onExit: () => void },
): void {
  const argv = containerArgv(run.spec, opts.env);
  if (!argv) {
    run.waitingReason = 'CommandRequired';
    return;
  }
  // Into the node's cgroup first (socket-level service translation), then the pod's network namespace.
  const [cmd, ...args] = [...joinCgroupArgv(opts.cgroupProcs), ...(opts.netnsPath ? ['nsenter', `--net=${opts.netnsPath}`, '--', ...argv] : argv)];
  const log = openSync(join(opts.dir, `${run.name}.log`), 'a');
  const cwd = run.spec.workingDir && existsSync(run.spec.workingDir) ? run.spec.workingDir : opts.dir;
  const proc = spawn(cmd!, args, { cwd, env: opts.env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  run.proc = proc;
  run.pid = proc.pid;
  run.startedAt = new Date().toISOString();
  run.exit = undefined;
  run.waitingReason = undefined;
  const done = (code: number | null, signal: string | null) => {
    if (run.proc !== proc || run.exit) return;
    run.exit = { code: code ?? (signal ? 128 : 1), signal, finishedAt: new Date().toISOString() };
    opts.onExit();
  };
  proc.on('exit', (code, signal) => done(code, signal));
  proc.on('error', () => done(127, null));
}

/** Stops a container's process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopContainer(run: ContainerRun, graceMs: number): Promise<void> {
  clearTimeout(run.restartTimer);
  run.restartAt = undefined;
  const proc = run.proc;
  if (!proc?.pid || run.exit) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  signal('SIGKILL');
}

/** Whether a container whose process exited with `code` restarts under `policy`. */
export function shouldRestart(policy: string | undefined, code: number | null): boolean {
  if (policy === 'Never') return false;
  if (policy === 'OnFailure') return code !== 0;
  return true;
}

/** Crude exponential restart backoff: 1 s doubling per restart, at most 30 s. */
export function restartDelayMs(restartCount: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(restartCount, 5));
}
