/**
 * The machine-wide lock under which a cluster chooses and takes its slot (node network, bridge
 * address, ports), so that clusters started at the same time, from any process and any state root,
 * never choose the same one. It is an flock(2) on a file under /run: the kernel drops it when the
 * holder closes the file or dies, so a crashed `up` never leaves it held.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** The lock file, shared by every state root on this machine. */
export const ALLOCATION_LOCK = '/run/ciliate/alloc.lock';

/** Runs `fn` while holding the allocation lock, waiting for other holders first. */
export async function withAllocationLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(ALLOCATION_LOCK), { recursive: true });
  const fd = openSync(ALLOCATION_LOCK, 'a', 0o600);
  try {
    await lockOpenFile(fd);
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes an exclusive flock on the open file `fd`, waiting as long as another holder has it. flock(1)
 * locks the open file it inherits as its fd 3, which this process shares: the lock stays ours after
 * flock(1) exits, until `fd` is closed.
 */
function lockOpenFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new Error(`flock (util-linux) could not lock ${ALLOCATION_LOCK}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`flock could not lock ${ALLOCATION_LOCK}: ${stderr.trim() || `exit ${code}`}`))));
  });
}
