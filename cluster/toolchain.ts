/** Finds or builds the pinned control-plane binaries, or the bench's kube-proxy (cluster/toolchain/build.sh). */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'toolchain', 'build.sh');

/**
 * What build.sh builds: the cluster's toolchain, or only upstream kube-proxy of the same Kubernetes
 * version (on demand, cached apart; the services bench's peer).
 */
export type ToolchainTarget = 'cluster' | 'kube-proxy';

/**
 * Returns the folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
 * and helm (or, for target `kube-proxy`, kube-proxy), building them first when the cache lacks them.
 * Build output goes to `onLine`.
 */
export function ensureToolchain(onLine: (line: string) => void = () => undefined, target: ToolchainTarget = 'cluster'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT, target], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      else reject(new Error(`building the ${target === 'cluster' ? 'control-plane toolchain' : target} failed (exit ${code}):\n${tail.join('\n')}`));
    });
  });
}
