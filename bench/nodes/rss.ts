/** Resident memory of a process, for the benches. */
import { readFileSync } from 'node:fs';

/** VmRSS of process `pid` in MiB (0 when it is gone or unknown). */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : 0;
  } catch {
    return 0;
  }
}
