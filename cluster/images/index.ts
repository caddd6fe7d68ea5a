/**
 * Node images without a registry: OCI layout archives that `ctr -n k8s.io images import` takes,
 * built from this machine's and our own programs, cached by content under ~/.cache/ciliate/images.
 *
 *   const archives = await ensureNodeImages({ log: console.error });
 *   for (const a of archives) ctr(['-n', 'k8s.io', 'images', 'import', a.path]);
 */
import { ensureToolchain, type ToolchainTarget } from '../toolchain.ts';
import { cachedFile, defaultImageCacheDir, fileSize } from './content-cache.ts';
import { NODE_IMAGES, type NodeImage, type NodeImageId } from './node-images.ts';
import { ociArchive } from './oci-layout.ts';

export { IMAGE_NAMES, NODE_IMAGES, type NodeImageId } from './node-images.ts';

/** One built image archive. */
export interface ImageArchive {
  id: NodeImageId;
  /** The OCI layout tar to import. */
  path: string;
  /** The names containerd gives the image on import. */
  names: readonly string[];
  /** The image manifest's digest. */
  manifestDigest: string;
  /** Archive size in bytes. */
  bytes: number;
  /** True when the archive was in the cache already. */
  reused: boolean;
}

/** Options of ensureNodeImages. */
export interface EnsureImagesOptions {
  /** Progress lines (Go build output included). */
  log?: (line: string) => void;
  /** Which images (default: all of NODE_IMAGES). */
  images?: readonly NodeImageId[];
  /** Where archives are cached (default ~/.cache/ciliate/images, following CILIATE_CACHE / XDG_CACHE_HOME). */
  cacheDir?: string;
}

/**
 * Returns the archive of each node image, building the ones whose inputs changed or that are not
 * cached yet. Go binaries (agnhost, coredns) come from cluster/toolchain/build.sh targets, built on
 * first use (minutes each). Images are built one after another.
 */
export async function ensureNodeImages(opts: EnsureImagesOptions = {}): Promise<ImageArchive[]> {
  const wanted = opts.images ?? NODE_IMAGES.map((i) => i.id);
  const unknown = wanted.filter((id) => !NODE_IMAGES.some((i) => i.id === id));
  if (unknown.length > 0) throw new Error(`images: unknown image ${unknown.join(', ')} (known: ${NODE_IMAGES.map((i) => i.id).join(', ')})`);
  const out: ImageArchive[] = [];
  for (const image of NODE_IMAGES.filter((i) => wanted.includes(i.id))) {
    out.push(await ensureImage(image, opts.cacheDir ?? defaultImageCacheDir(), opts.log ?? (() => undefined)));
  }
  return out;
}

/** The archive of one image, built unless the cache holds one with the same content. */
export async function ensureImage(image: NodeImage, cacheDir: string, log: (line: string) => void): Promise<ImageArchive> {
  const toolchain = (target: ToolchainTarget) => ensureToolchain(log, target);
  const { rootfs, runtime } = await image.assemble({ cacheDir, toolchain });
  const archive = ociArchive([...image.names], rootfs, runtime);
  const file = await cachedFile(cacheDir, image.id, archive.contentKey, '.tar', () => archive.chunks);
  log(`[images] ${image.id}: ${file.reused ? 'cached' : 'built'} ${file.path}`);
  return { id: image.id, path: file.path, names: image.names, manifestDigest: archive.manifestDigest, bytes: fileSize(file.path), reused: file.reused };
}
