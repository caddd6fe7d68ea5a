/** The live state of a local cluster, written by its supervisor and read by `status` and `down`. */
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

/** Whether a process with this pid exists. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
