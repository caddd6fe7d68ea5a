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
