/**
 * Ciliate's programs as single JavaScript files (esbuild), so images run plain Node.js with no
 * TypeScript loader: the agent, its slot worker and its HTTP proxy (which it starts from beside itself), the
 * operator, the Hubble Relay, the CNI plugin, the agent pod's node setup, and the service map's web
 * server (hubble-ui). Native parts (the datapath addon, BPF objects) stay files of their own.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.ts';

/** Each bundle: its output name and its entry module, relative to the repository. */
export const BUNDLES = {
  agent: 'agent/agent-main.ts',
  'endpoint-slot-worker': 'agent/endpoint-slot-worker.ts',
  operator: 'operator/main.ts',
  'hubble-relay': 'hubble/relay/main.ts',
  'ciliate-cni': 'cni/main.ts',
  'hubble-ui': 'hubble/ui/main.ts',
  'node-setup': 'agent/node-setup/main.ts',
  'http-proxy': 'envoy/proxy-main.ts',
} as const;

/** A bundle's name. */
export type BundleName = keyof typeof BUNDLES;

/** Gives the bundles' CommonJS dependencies a `require` inside an ES module. */
const REQUIRE_SHIM = "import { createRequire as __ciliateRequire } from 'node:module'; const require = __ciliateRequire(import.meta.url);";

/** Writes `<outDir>/<name>.mjs` for every bundle and returns their paths by name. */
export async function buildBundles(outDir: string): Promise<Record<BundleName, string>> {
  const names = Object.keys(BUNDLES) as BundleName[];
  await build({
    entryPoints: Object.fromEntries(names.map((n) => [n, join(REPO_ROOT, BUNDLES[n])])),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: REQUIRE_SHIM },
    legalComments: 'none',
    logLevel: 'warning',
  });
  return Object.fromEntries(names.map((n) => [n, join(outDir, `${n}.mjs`)])) as Record<BundleName, string>;
}
