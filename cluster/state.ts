/** The live state of a local cluster, written by its supervisor and read by `status` and `down`. */
import { readFileSync } from 'node:fs';
import { readJson } from './config.ts';

/** How far one component has got. */
export interface ComponentState {
  pid?: number;
  log: string;
  phase: 'starting' | 'running' | 'exited';
  exitCode?: number | null;
  signal?: string | null;
  /** How often the supervisor restarted it (node components only). */
  restarts?: number;
}

/** The supervisor's view of its cluster. */
export interface ClusterState {
  supervisorPid: number;
  phase: 'starting' | 'running' | 'degraded' | 'failed' | 'stopping';
  error?: string;
  startedAt: string;
  components: Record<string, ComponentState>;
}

/** Reads a cluster's state file. */
export function readState(path: string): ClusterState | undefined {
  return readJson<ClusterState>(path);
}

/**
 * Whether a process with this pid is still running. A zombie (exited, not yet reaped by its
 * parent) counts as gone: it holds no namespace, socket or file any more.
 */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Whether `pid` has exited and waits to be reaped (state Z or X in /proc/<pid>/stat). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}
