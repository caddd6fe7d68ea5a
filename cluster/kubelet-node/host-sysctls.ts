/**
 * kubelet sets a few machine-wide kernel settings when it starts (its "kernel tunables"). The
 * local cluster records their values before its first kubelet starts and puts them back when the
 * last cluster with real nodes goes down, so a test machine is left as it was found.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The settings kubelet changes (as /proc/sys paths relative to /proc/sys). */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes',
];

/** Where the original values and the clusters using them are recorded. */
export const SYSCTL_RECORD = '/run/ciliate/kubelet-sysctls.json';

interface SysctlRecord {
  values: Record<string, string>;
  clusters: string[];
}

function read(path: string): SysctlRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SysctlRecord;
  } catch {
    return undefined;
  }
}

/** Records the machine's values (once, before any kubelet ran) and that `cluster` runs kubelets. */
export function claimHostSysctls(cluster: string, path = SYSCTL_RECORD): void {
  const record = read(path) ?? {
    values: Object.fromEntries(KUBELET_SYSCTLS.filter((k) => existsSync(`/proc/sys/${k}`)).map((k) => [k, readFileSync(`/proc/sys/${k}`, 'utf8').trim()])),
    clusters: [],
  };
  if (!record.clusters.includes(cluster)) record.clusters.push(cluster);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(record) + '\n');
}

/** Drops `cluster` from the record; the last one out restores the machine's values. */
export function releaseHostSysctls(cluster: string, path = SYSCTL_RECORD): void {
  const record = read(path);
  if (!record) return;
  record.clusters = record.clusters.filter((c) => c !== cluster);
  if (record.clusters.length > 0) {
    writeFileSync(path, JSON.stringify(record) + '\n');
    return;
  }
  for (const [k, v] of Object.entries(record.values)) {
    try {
      writeFileSync(`/proc/sys/${k}`, v);
    } catch {
      // read-only in this environment: nothing was changed there either
    }
  }
  rmSync(path, { force: true });
}
