/**
 * Ciliate's programs as single JavaScript files (esbuild), so images run plain Node.js with no
 * TypeScript loader: the agent, its slot worker and its HTTP proxy (which it starts from beside itself), the
 * operator, the Hubble Relay, the CNI plugin, the agent pod's node setup, and the service map's web
 * server (hubble-ui). Native parts (the datapath addon, BPF objects) stay files of their own.
 */
import { build, type Plugin } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
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

/**
 * `source` with every code unit outside ASCII written as a `\uXXXX` escape. V8 keeps a script's
 * source for as long as the script lives, one byte per character when all of them are Latin-1 and
 * two otherwise: a single `’` left in a dependency's comment doubles what the agent's bundle costs
 * (4.5 MB of source held as 9 MB). esbuild already escapes strings, templates, regular expressions
 * and identifiers (charset ascii), so what is left is in comments, where an escape means the same
 * to a reader; in any other place the escape is the same character to JavaScript.
 */
export function asciiSource(source: string): string {
  // eslint-disable-next-line no-control-regex
  return source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Tells esbuild that @kubernetes/client-node's modules have no side effects when imported (they
 * declare classes and functions; only its File polyfill acts on load), so a bundle carries only the
 * modules it uses: without this, importing KubeConfig brings every generated API class and model
 * (about 1 MB of code, several MiB of heap once loaded) into programs that send raw JSON.
 */
const kubeClientSideEffectsFree: Plugin = {
  name: 'kube-client-side-effects-free',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === KUBE_CLIENT || !(args.path.includes(KUBE_CLIENT) || args.importer.includes(KUBE_CLIENT))) return undefined;
      const r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: KUBE_CLIENT });
      if (r.errors.length || !r.path.includes(`${KUBE_CLIENT}/`) || r.path.endsWith('/polyfill.js')) return undefined;
      return { ...r, sideEffects: false };
    });
  },
};
const KUBE_CLIENT = '@kubernetes/client-node';

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
    charset: 'ascii',
    plugins: [kubeClientSideEffectsFree],
    logLevel: 'warning',
  });
  for (const n of names) {
    const file = join(outDir, `${n}.mjs`);
    const source = readFileSync(file, 'utf8');
    const ascii = asciiSource(source);
    if (ascii !== source) writeFileSync(file, ascii);
  }
  return Object.fromEntries(names.map((n) => [n, join(outDir, `${n}.mjs`)])) as Record<BundleName, string>;
}
