/** Finds or builds the pinned control-plane binaries (cluster/toolchain/build.sh). */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'toolchain', 'build.sh');

/**
 * Returns the folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
 * and helm, building them first when the cache lacks them. Build output goes to `onLine`.
 */
export function ensureToolchain(onLine: (line: string) => void = () => undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let tail: string[] = [];
    child.stdout.on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      for (const line of d.split('\n').filter(Boolean)) {
        tail = [...tail.slice(-30), line];
        onLine(line);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out.trim().split('\n').pop()!);
      else reject(new Error(`building the control-plane toolchain failed (exit ${code}):\n${tail.join('\n')}`));
    });
  });
}
