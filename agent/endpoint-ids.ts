/**
 * Agent-local endpoint ids (1-65535), persisted in a JSON file so that an endpoint keeps its id, and
 * with it its pinned BPF maps and links, across agent restarts.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** The largest endpoint id. */
export const MAX_ENDPOINT_ID = 65535;

/** Allocates endpoint ids by endpoint key (`containerId/ifName`). */
export class EndpointIdAllocator {
  readonly #ids = new Map<string, number>();

  constructor(readonly path: string) {
    if (existsSync(path)) {
      const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>;
      for (const [key, id] of Object.entries(saved)) this.#ids.set(key, id);
    }
  }

  /** The id of `key`, allocating the lowest free one for a new key. */
  idFor(key: string): number {
    const have = this.#ids.get(key);
    if (have !== undefined) return have;
    const used = new Set(this.#ids.values());
    let id = 1;
    while (used.has(id)) id++;
    if (id > MAX_ENDPOINT_ID) throw new RangeError('no endpoint id left on this node');
    this.#ids.set(key, id);
    this.#save();
    return id;
  }

  /** Whether `key` has an id. */
  has(key: string): boolean {
    return this.#ids.has(key);
  }

  /** Every key with an id. */
  keys(): string[] {
    return [...this.#ids.keys()];
  }

  /** Moves the id of `from` to `to` (which must have none); returns it. */
  rekey(from: string, to: string): number {
    const id = this.#ids.get(from);
    if (id === undefined) throw new Error(`no endpoint id for ${from}`);
    if (this.#ids.has(to)) throw new Error(`${to} already has endpoint id ${this.#ids.get(to)}`);
    this.#ids.delete(from);
    this.#ids.set(to, id);
    this.#save();
    return id;
  }

  /** Frees the id of `key`. */
  release(key: string): void {
    if (this.#ids.delete(key)) this.#save();
  }

  #save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#ids)));
    renameSync(tmp, this.path);
  }
}
