/**
 * Entry ids of one endpoint's policy map: every policy-map key gets a small integer that the kernel
 * stores in the entry, counts packets under (policy_stats) and reports in flow events. The agent
 * keeps the map-state row behind each id, so a counter or an event can name the rules that
 * produced the entry ("why was this allowed or dropped").
 */
import { keyString, type MapStateRow, type PolicyKey } from '../policy/mapstate-types.ts';

/** The kernel's policy_stats array holds this many entries per endpoint. */
export const MAX_ENTRY_IDS = 16384;

/** Allocates and recycles entry ids per policy key. Id 0 is never handed out (it means "no entry"). */
export class EntryIds {
  readonly #byKey = new Map<string, number>();
  readonly #rows = new Map<number, MapStateRow>();
  readonly #free: number[] = [];
  #next = 1;

  constructor(readonly max = MAX_ENTRY_IDS) {}

  /** The id of a row's key, allocating one for a new key; records the row for explanations. */
  assign(row: MapStateRow): number {
    const k = keyString(row.key);
    let id = this.#byKey.get(k);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#next++;
      if (id >= this.max) throw new RangeError(`policy map full: more than ${this.max - 1} entries for one endpoint`);
      this.#byKey.set(k, id);
    }
    this.#rows.set(id, row);
    return id;
  }

  /** Frees the id of a key that left the map. */
  release(key: PolicyKey): void {
    const k = keyString(key);
    const id = this.#byKey.get(k);
    if (id === undefined) return;
    this.#byKey.delete(k);
    this.#rows.delete(id);
    this.#free.push(id);
  }

  /** The row an entry id stands for, if it is in use. */
  row(id: number): MapStateRow | undefined {
    return this.#rows.get(id);
  }

  /** How many ids are in use. */
  get size(): number {
    return this.#byKey.size;
  }
}
