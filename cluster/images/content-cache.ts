/**
 * The image cache: archives and compiled programs stored under a name that includes the hash of
 * their inputs, so a second build with the same inputs finds its result instead of redoing it.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Ciliate's cache root, as cluster/toolchain/build.sh picks it (CILIATE_CACHE, XDG_CACHE_HOME, ~/.cache). */
export function cacheRoot(): string {
  return process.env.CILIATE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ciliate');
}

/** The default folder of built images: <cache root>/images. */
export function defaultImageCacheDir(): string {
  return join(cacheRoot(), 'images');
}

/** Hex sha256 of the given parts, each length-prefixed so that part boundaries count. */
export function inputHash(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = Buffer.from(p);
    h.update(`${b.length}:`);
    h.update(b);
  }
  return h.digest('hex');
}

/** A cached file: where it is, and whether it was there already. */
export interface CachedFile {
  path: string;
  reused: boolean;
}

/**
 * How long a cached file of another key stays after its last use. Clusters and worktrees of other
 * versions may be importing it right now, so a new key never removes a file in use.
 */
export const STALE_AFTER_MS = 24 * 3600_000;

/**
 * Returns `<dir>/<stem>-<key><suffix>`, first writing it from `produce()` when missing. The file is
 * written under a temporary name and renamed, so readers never see a partial one and concurrent
 * writers of the same key agree. Each use marks the file's mtime; files of the same stem with other
 * keys are removed once unused for {@link STALE_AFTER_MS}.
 */
export async function cachedFile(dir: string, stem: string, key: string, suffix: string, produce: () => Promise<Buffer[]> | Buffer[], mode = 0o644): Promise<CachedFile> {
  const name = `${stem}-${key.slice(0, 24)}${suffix}`;
  const path = join(dir, name);
  if (existsSync(path)) {
    const now = new Date();
    utimesSync(path, now, now);
    return { path, reused: true };
  }
  mkdirSync(dir, { recursive: true });
  const chunks = await produce();
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    for (const c of chunks) for (let off = 0; off < c.length; ) off += writeSync(fd, c, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const staleBefore = Date.now() - STALE_AFTER_MS;
  for (const other of readdirSync(dir)) {
    if (other !== name && other.startsWith(`${stem}-`) && other.endsWith(suffix) && /^[0-9a-f]{24}$/.test(other.slice(stem.length + 1, other.length - suffix.length))) {
      const file = join(dir, other);
      if ((statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < staleBefore) rmSync(file, { force: true });
    }
  }
  return { path, reused: false };
}

/** Size of a file in bytes. */
export function fileSize(path: string): number {
  return statSync(path).size;
}
