/**
 * Entry ids of one endpoint's policy map: every policy-map key gets a small integer that the kernel
 * stores in the entry, counts packets under (policy_stats) and reports in flow events. The agent
 * keeps the map-state row behind each id, so a counter or an event can name the rules that
 * produced the entry ("why was this allowed or dropped").
 *
 * Provenance stays true: a freed id keeps naming its last row, and is handed out again only after
 * every other id was used (oldest freed first), so conntrack entries and flow events that still
 * carry it are not explained by another rule. A restarted agent takes over the ids the kernel's
 * map already holds for the same keys.
 */
import { keyString, type MapStateRow, type PolicyKey } from '../policy/mapstate-types.ts';

/** The kernel's policy_stats array holds this many entries per endpoint. */
export const MAX_ENTRY_IDS = 16384;

/** Allocates and recycles entry ids per policy key. Id 0 is never handed out (it means "no entry"). */
export class EntryIds {
  readonly #byKey = new Map<string, number>();
  readonly #rows = new Map<number, MapStateRow>();
  /** Ids in use. */
  readonly #used = new Set<number>();
  /** Freed ids, oldest first. */
  readonly #free = new Set<number>();
  #next = 1;

  constructor(readonly max = MAX_ENTRY_IDS) {}

  /**
   * The id of a row's key, allocating one for a new key (`preferred`, the id the kernel already
   * holds for it, when that is free); records the row for explanations. Throws a RangeError when
   * every id is in use.
   */
  assign(row: MapStateRow, preferred?: number): number {
    const id = this.tryAssign(row, preferred);
    if (id === undefined) throw new RangeError(`policy map full: more than ${this.max - 1} entries for one endpoint`);
    return id;
  }

  /** As {@link assign}, but undefined when every id is in use. */
  tryAssign(row: MapStateRow, preferred?: number): number | undefined {
    const k = keyString(row.key);
    let id = this.#byKey.get(k);
    if (id === undefined) {
      id = this.#take(preferred);
      if (id === undefined) return undefined;
      this.#byKey.set(k, id);
      this.#used.add(id);
    }
    this.#rows.set(id, row);
    return id;
  }

  #take(preferred: number | undefined): number | undefined {
    if (preferred !== undefined && preferred > 0 && preferred < this.max && !this.#used.has(preferred)) {
      this.#free.delete(preferred);
      if (preferred >= this.#next) {
        for (let n = this.#next; n < preferred; n++) this.#free.add(n);
        this.#next = preferred + 1;
      }
      return preferred;
    }
    while (this.#next < this.max) {
      const id = this.#next++;
      if (!this.#used.has(id)) return id;
    }
    for (const id of this.#free) {
      this.#free.delete(id);
      if (!this.#used.has(id)) return id;
    }
    return undefined;
  }

  /** Frees the id of a key that left the map. */
  release(key: PolicyKey): void {
    const k = keyString(key);
    const id = this.#byKey.get(k);
    if (id === undefined) return;
    this.#byKey.delete(k);
    this.#used.delete(id);
    this.#free.add(id);
  }

  /** The row an entry id stands for: in use, or freed and not handed out again since. */
  row(id: number): MapStateRow | undefined {
    return this.#rows.get(id);
  }

  /** How many ids are in use. */
  get size(): number {
    return this.#byKey.size;
  }
}
