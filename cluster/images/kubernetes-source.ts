/** Upstream Kubernetes' source tree of the pinned version (cluster/toolchain/versions.env), from the Go module cache. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../runtime/exec.ts';

const VERSIONS_ENV = join(import.meta.dirname, '..', 'toolchain', 'versions.env');

/** The value of `key` in cluster/toolchain/versions.env. */
export function pinnedVersion(key: string): string {
  const m = new RegExp(`^${key}=(\\S+)$`, 'm').exec(readFileSync(VERSIONS_ENV, 'utf8'));
  if (!m) throw new Error(`${VERSIONS_ENV} has no ${key}`);
  return m[1]!;
}

/** The folder of k8s.io/kubernetes at the pinned version, downloaded through the module proxy if missing. */
export async function kubernetesSourceDir(): Promise<string> {
  const module = `k8s.io/kubernetes@v${pinnedVersion('KUBERNETES_VERSION')}`;
  const out = await run('go', ['mod', 'download', '-json', module], { cwd: tmpdir(), env: { GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' } });
  const dir = (JSON.parse(out) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${module} named no source folder`);
  return dir;
}
