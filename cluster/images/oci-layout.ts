/**
 * An OCI image layout as one tar archive: `oci-layout`, `index.json` and the blobs (config, manifest,
 * one uncompressed layer) that `ctr images import` accepts. Each image name is a manifest entry of the
 * index annotated with `io.containerd.image.name` (the name containerd gives it) and
 * `org.opencontainers.image.ref.name` (its tag). A `manifest.json` in the format `docker save` writes
 * names the same config and layer, so `docker load`, `podman load` and `kind load image-archive` read
 * the archive too. Nothing varies between builds: same inputs, same bytes.
 */
import { createHash } from 'node:crypto';
import type { Rootfs } from './rootfs.ts';
import { tarChunks } from './tar-writer.ts';

/** The runtime settings of an image (the `config` of its OCI image configuration). */
export interface ImageRuntimeConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  /** Ports as "<port>/tcp" or "<port>/udp". */
  exposedPorts?: string[];
}

/** A content descriptor of the OCI image spec. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** An image layout archive ready to be written. */
export interface OciArchive {
  /** The archive's bytes, in order. */
  chunks: Buffer[];
  /** The manifest's digest: the image's identity once imported. */
  manifestDigest: string;
  /** sha256 of index.json and manifest.json, which pin every byte of the archive: a content key for caching it. */
  contentKey: string;
}

/** Media types of the OCI image spec. */
export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The annotation containerd names an imported image by. */
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
/** The OCI annotation naming a manifest's tag within a layout. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const PLATFORM = { architecture: 'amd64', os: 'linux' };
const EPOCH = '1970-01-01T00:00:00Z';
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Builds the layout archive of one image with the given names, file tree and runtime settings. */
export function ociArchive(names: string[], rootfs: Rootfs, runtime: ImageRuntimeConfig): OciArchive {
  if (names.length === 0) throw new Error('image names: at least one name is needed');
  const tags = names.map(tagOf);
  const layerChunks = tarChunks(rootfs.tarEntries());
  const layer = descriptor(MEDIA_TYPE.layer, layerChunks);
  const config = jsonBlob(MEDIA_TYPE.config, {
    architecture: PLATFORM.architecture,
    os: PLATFORM.os,
    created: EPOCH,
    config: {
      Env: runtime.env ?? [DEFAULT_PATH],
      ...(runtime.entrypoint && { Entrypoint: runtime.entrypoint }),
      ...(runtime.cmd && { Cmd: runtime.cmd }),
      ...(runtime.workingDir && { WorkingDir: runtime.workingDir }),
      ...(runtime.exposedPorts && { ExposedPorts: Object.fromEntries(runtime.exposedPorts.map((p) => [checkPort(p), {}])) }),
    },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created: EPOCH, created_by: `ciliate cluster/images: ${names[0]}` }],
  });
  const manifest = jsonBlob(MEDIA_TYPE.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: config.descriptor,
    layers: [layer],
  });
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: names.map((name, i): Descriptor => ({
      ...manifest.descriptor,
      annotations: { [CONTAINERD_NAME_ANNOTATION]: name, [REF_NAME_ANNOTATION]: tags[i]! },
      platform: PLATFORM,
    })),
  }));
  const dockerManifest = Buffer.from(JSON.stringify([{
    Config: `blobs/sha256/${config.descriptor.digest.slice(7)}`,
    RepoTags: names,
    Layers: [`blobs/sha256/${layer.digest.slice(7)}`],
  }]));
  const blob = (d: Descriptor, content: Buffer[]) => ({ type: 'file' as const, path: `blobs/sha256/${d.digest.slice(7)}`, mode: 0o644, content: Buffer.concat(content) });
  const chunks = tarChunks([
    { type: 'file', path: 'oci-layout', mode: 0o644, content: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { type: 'file', path: 'index.json', mode: 0o644, content: index },
    { type: 'file', path: 'manifest.json', mode: 0o644, content: dockerManifest },
    { type: 'dir', path: 'blobs', mode: 0o755 },
    { type: 'dir', path: 'blobs/sha256', mode: 0o755 },
    blob(config.descriptor, [config.bytes]),
    blob(manifest.descriptor, [manifest.bytes]),
    blob(layer, layerChunks),
  ]);
  return { chunks, manifestDigest: manifest.descriptor.digest, contentKey: sha256([index, dockerManifest]) };
}

/** The tag of an image name `[registry/]repository:tag`; throws naming the name when it has none. */
function tagOf(name: string): string {
  const m = /^[a-z0-9][a-z0-9._/:-]*:([\w][\w.-]{0,127})$/.exec(name);
  if (!m || name.lastIndexOf(':') < name.lastIndexOf('/')) {
    throw new Error(`image name "${name}" is invalid: use registry/repository:tag with a tag`);
  }
  return m[1]!;
}

function checkPort(port: string): string {
  if (!/^\d{1,5}\/(tcp|udp)$/.test(port)) throw new Error(`exposed port "${port}" is invalid: use <port>/tcp or <port>/udp`);
  return port;
}

function jsonBlob(mediaType: string, value: unknown): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, descriptor: descriptor(mediaType, [bytes]) };
}

function descriptor(mediaType: string, content: Buffer[]): Descriptor {
  return { mediaType, digest: `sha256:${sha256(content)}`, size: content.reduce((n, c) => n + c.length, 0) };
}

function sha256(content: Buffer[]): string {
  const h = createHash('sha256');
  for (const c of content) h.update(c);
  return h.digest('hex');
}
