/** Importing the locally built image archives into a node's containerd (no registry is involved). */
import { existsSync } from 'node:fs';
import { run } from '../../runtime/exec.ts';

/** containerd's namespace for images and containers that kubelet uses. */
export const CRI_NAMESPACE = 'k8s.io';

/** Waits until containerd answers on `socket` (or `timeoutMs` passes). */
export async function waitContainerd(socket: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(socket) && (await run('ctr', ['--address', socket, 'version']).then(() => true, () => false))) return;
    if (Date.now() > deadline) throw new Error(`containerd did not answer on ${socket} within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Imports each OCI archive into the containerd at `socket`, in kubelet's namespace. */
export async function importImages(socket: string, archives: string[]): Promise<void> {
  for (const a of archives) {
    await run('ctr', ['--address', socket, '-n', CRI_NAMESPACE, 'images', 'import', '--all-platforms', a]);
  }
}
