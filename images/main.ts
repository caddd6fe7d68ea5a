/**
 * `npm run images [-- --out DIR]`: builds Ciliate's agent, operator and hubble-ui images as OCI
 * archives (also readable by `docker load`, `podman load`, `kind load image-archive` and `ctr images import`) into
 * DIR (default build/images), and prints each image's size and the build time.
 * `npm run build:bundles` (`--bundles-only`) writes only the bundles into build/bundle, which the
 * local cluster runs with `up({ bundled: true })`.
 */
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ociArchive } from '../cluster/images/oci-layout.ts';
import { buildBundles } from './bundles.ts';
import { agentImage, hubbleUiImage, operatorImage } from './ciliate-images.ts';
import { REPO_ROOT } from './repo.ts';

/** One image archive written by {@link buildImages}. */
export interface BuiltImage {
  id: string;
  names: string[];
  path: string;
  bytes: number;
  /** Bytes of the image's files once unpacked. */
  unpackedBytes: number;
}

/** Where the bundles go. */
export const BUNDLE_DIR = join(REPO_ROOT, 'build', 'bundle');

/** Builds the bundles and the images into `outDir`; returns what it wrote. */
export async function buildImages(outDir: string): Promise<BuiltImage[]> {
  const bundles = await buildBundles(BUNDLE_DIR);
  mkdirSync(outDir, { recursive: true });
  const out: BuiltImage[] = [];
  for (const image of [await agentImage(bundles), await operatorImage(bundles), await hubbleUiImage(bundles)]) {
    const archive = ociArchive(image.names, image.rootfs, image.runtime);
    const path = join(outDir, `ciliate-${image.id}.tar`);
    writeFileSync(`${path}.${process.pid}.tmp`, Buffer.concat(archive.chunks));
    renameSync(`${path}.${process.pid}.tmp`, path);
    const unpackedBytes = image.rootfs.tarEntries().reduce((n, e) => n + (e.type === 'file' ? e.content.length : 0), 0);
    out.push({ id: image.id, names: image.names, path, bytes: statSync(path).size, unpackedBytes });
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'bundles-only': { type: 'boolean' } } });
  const started = performance.now();
  if (values['bundles-only']) {
    for (const [name, path] of Object.entries(await buildBundles(BUNDLE_DIR))) console.log(`${name}: ${path}`);
    return;
  }
  const images = await buildImages(values.out ?? join(REPO_ROOT, 'build', 'images'));
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  for (const i of images) console.log(`${i.names.join(', ')}: ${i.path} (${mb(i.bytes)}; files ${mb(i.unpackedBytes)} unpacked)`);
  console.log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
