// bpffs: mounts /sys/fs/bpf when absent and manages per-run pin directories below it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Default bpffs mount point. */
export const BPFFS_ROOT = '/sys/fs/bpf';

/** True when a bpf filesystem is mounted at root. */
export function bpffsMounted(root = BPFFS_ROOT): boolean {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((l) => {
    const [, mnt, type] = l.split(' ');
    return mnt === root && type === 'bpf';
  });
}

/** Mounts bpffs at root unless it is already mounted (needs root). */
export function ensureBpffs(root = BPFFS_ROOT): void {
  if (bpffsMounted(root)) return;
  mkdirSync(root, { recursive: true });
  execFileSync('mount', ['-t', 'bpf', 'bpf', root]);
}

/** Creates (recursively) and returns a pin directory below the bpffs root. */
export function makePinDir(...parts: string[]): string {
  ensureBpffs();
  const dir = join(BPFFS_ROOT, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Removes a pin directory and everything pinned under it; missing = success. */
export function removePinDir(dir: string): void {
  if (!dir.startsWith(`${BPFFS_ROOT}/`)) throw new Error(`refusing to remove ${dir}: not below ${BPFFS_ROOT}`);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
