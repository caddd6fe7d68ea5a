/** Reads an OCI image layout archive back, checking every blob against its digest and size. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readTar, type TarMember } from './tar-reader.ts';

/** A descriptor as written in index.json or a manifest. */
export interface ReadDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** An image layout archive's parts, parsed. */
export interface ReadOciArchive {
  members: TarMember[];
  layout: { imageLayoutVersion: string };
  index: { schemaVersion: number; mediaType: string; manifests: ReadDescriptor[] };
  manifest: { schemaVersion: number; mediaType: string; config: ReadDescriptor; layers: ReadDescriptor[] };
  config: {
    architecture: string;
    os: string;
    created: string;
    config: { Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; ExposedPorts?: Record<string, object> };
    rootfs: { type: string; diff_ids: string[] };
  };
  /** The members of the (single) layer. */
  layer: TarMember[];
}

/** Parses the archive at `path`; throws when a blob is missing or does not match its descriptor. */
export function readOciArchive(path: string): ReadOciArchive {
  const members = readTar(readFileSync(path));
  const file = (name: string) => {
    const m = members.find((x) => x.path === name);
    if (!m) throw new Error(`${path}: no ${name}`);
    return m.content;
  };
  const blob = (d: ReadDescriptor) => {
    const content = file(`blobs/sha256/${d.digest.replace(/^sha256:/, '')}`);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    if (digest !== d.digest || content.length !== d.size) throw new Error(`${path}: blob ${d.digest} has digest ${digest}, size ${content.length} (want ${d.size})`);
    return content;
  };
  const index = JSON.parse(file('index.json').toString());
  const digests = new Set(index.manifests.map((m: ReadDescriptor) => m.digest));
  if (digests.size !== 1) throw new Error(`${path}: expected one manifest, found ${digests.size}`);
  const manifest = JSON.parse(blob(index.manifests[0]).toString());
  const config = JSON.parse(blob(manifest.config).toString());
  if (manifest.layers.length !== 1) throw new Error(`${path}: expected one layer, found ${manifest.layers.length}`);
  return { members, layout: JSON.parse(file('oci-layout').toString()), index, manifest, config, layer: readTar(blob(manifest.layers[0])) };
}
