/** An image's file tree, assembled in memory and listed in a fixed order for its layer. */
import { readFileSync, statSync } from 'node:fs';
import type { TarEntry } from './tar-writer.ts';

/**
 * The files, directories and symlinks of one image layer. Paths are absolute inside the image;
 * missing parent directories are added (mode 0755). Adding a path twice is an error.
 */
export class Rootfs {
  private readonly entries = new Map<string, TarEntry>();

  /** Adds a directory, or sets the mode of one already there. */
  dir(path: string, mode = 0o755): this {
    const rel = this.parentsOf(path);
    if (this.entries.get(rel)?.type === 'dir') this.entries.delete(rel);
    return this.add({ type: 'dir', path: rel, mode });
  }

  /** Adds a file with `content`. */
  file(path: string, content: Buffer | string, mode = 0o644): this {
    return this.add({ type: 'file', path: this.parentsOf(path), mode, content: Buffer.from(content) });
  }

  /** Adds a copy of the machine's file `hostPath` (symlinks followed), keeping its permission bits. */
  hostFile(path: string, hostPath: string): this {
    const mode = statSync(hostPath).mode & 0o7777;
    return this.file(path, readFileSync(hostPath), mode);
  }

  /** Adds a symbolic link to `target`. */
  symlink(path: string, target: string): this {
    return this.add({ type: 'symlink', path: this.parentsOf(path), target });
  }

  /** Whether `path` is in the tree. */
  has(path: string): boolean {
    return this.entries.has(relative(path));
  }

  /** Every entry, parents before children, in a fixed (byte-wise path) order. */
  tarEntries(): TarEntry[] {
    return [...this.entries.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  }

  private add(entry: TarEntry): this {
    if (this.entries.has(entry.path)) throw new Error(`image path /${entry.path} is added twice`);
    this.entries.set(entry.path, entry);
    return this;
  }

  /** Adds the missing parent directories of `path`; returns its relative form. */
  private parentsOf(path: string): string {
    const rel = relative(path);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = this.entries.get(parent);
      if (!existing) this.entries.set(parent, { type: 'dir', path: parent, mode: 0o755 });
      else if (existing.type !== 'dir') throw new Error(`image path /${rel}: /${parent} is not a directory`);
    }
    return rel;
  }
}

/** `path` without its leading "/"; rejects empty, "." and ".." components. */
function relative(path: string): string {
  const rel = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (rel === '' || rel.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`image path "${path}" is invalid: use an absolute path without empty, "." or ".." parts`);
  }
  return rel;
}
