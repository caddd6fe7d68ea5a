/** Finds or builds the pinned cluster binaries and the on-demand ones (cluster/toolchain/build.sh). */
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'toolchain', 'build.sh');

/**
 * What build.sh builds: the cluster's toolchain, or on demand (each cached apart) upstream kube-proxy
 * (the services bench's peer), agnhost and coredns (node images' binaries), e2e.test with ginkgo, or
 * the upstream `hubble` CLI (the Hubble server's test peer).
 */
export type ToolchainTarget = 'cluster' | 'kube-proxy' | 'agnhost' | 'coredns' | 'e2e' | 'hubble';

/**
 * Returns the folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
 * kubelet and helm (or another target's binaries), building the ones the cache lacks first. Build
 * output goes to `onLine`.
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
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim().split('\n').pop()!);
      else reject(new Error(`building the ${target === 'cluster' ? 'control-plane toolchain' : target} failed (exit ${code}):\n${tail.join('\n')}`));
    });
  });
}

/** The folder holding `target`'s binaries if they are all built, else undefined; never builds. */
export function builtToolchain(target: ToolchainTarget): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile('bash', [BUILD_SCRIPT, target, '--check'], (err, stdout) => {
      if (!err) resolve(stdout.trim());
      else if (err.code === 3) resolve(undefined);
      else reject(err);
    });
  });
}
