/**
 * MapState: the per-endpoint policy map as a keyed collection, with an index for lookups and
 * diffs between states. Keys are stored packed (see `encodeKey`); entries are often shared
 * between keys, so never mutate one.
 */
import type { Direction } from './api/model.ts';
import {
  type MapStateDiff, type MapStateRow, type PolicyEntry, type PolicyKey, decodeKey, encodeKey,
} from './mapstate-types.ts';

const fingerprints = new WeakMap<PolicyEntry, string>();

/** Canonical text of an entry, for equality (cached per entry object). */
export function entryFingerprint(e: PolicyEntry): string {
  let f = fingerprints.get(e);
  if (f === undefined) {
    f = JSON.stringify([e.deny, e.proxyPort, e.redirect ?? null, e.derivedFrom]);
    fingerprints.set(e, f);
  }
  return f;
}

/** True when two entries are equal. */
export function entriesEqual(a: PolicyEntry, b: PolicyEntry): boolean {
  return a === b || entryFingerprint(a) === entryFingerprint(b);
}

const indexKey = (direction: Direction, identity: number) => identity * 2 + (direction === 'egress' ? 1 : 0);

/** A mutable policy map state. */
export class MapState {
  readonly #entries = new Map<number, PolicyEntry>();
  readonly #byIdentity = new Map<number, Set<number>>();

  /** Builds a state from rows. */
  static of(rows: Iterable<MapStateRow>): MapState {
    const s = new MapState();
    for (const r of rows) s.set(r.key, r.entry);
    return s;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key`, if any. */
  get(key: PolicyKey): PolicyEntry | undefined {
    return this.#entries.get(encodeKey(key));
  }

  /** Sets an entry. */
  set(key: PolicyKey, entry: PolicyEntry): void {
    const code = encodeKey(key);
    this.#entries.set(code, entry);
    const ik = indexKey(key.direction, key.identity);
    let set = this.#byIdentity.get(ik);
    if (!set) this.#byIdentity.set(ik, (set = new Set()));
    set.add(code);
  }

  /** Removes an entry; returns the removed row. */
  delete(key: PolicyKey): MapStateRow | undefined {
    const code = encodeKey(key);
    const entry = this.#entries.get(code);
    if (!entry) return undefined;
    this.#entries.delete(code);
    const ik = indexKey(key.direction, key.identity);
    const set = this.#byIdentity.get(ik);
    set?.delete(code);
    if (set?.size === 0) this.#byIdentity.delete(ik);
    return { key, entry };
  }

  /** Rows keyed by one direction and remote identity. */
  rowsFor(direction: Direction, identity: number): MapStateRow[] {
    const set = this.#byIdentity.get(indexKey(direction, identity));
    return set ? [...set].map((c) => ({ key: decodeKey(c), entry: this.#entries.get(c)! })) : [];
  }

  /** All rows, sorted by packed key (identity, direction, protocol, port). */
  rows(): MapStateRow[] {
    return [...this.#entries.keys()].sort((a, b) => a - b).map((c) => ({ key: decodeKey(c), entry: this.#entries.get(c)! }));
  }

  /** Applies a diff in datapath order (adds and changes, then removes). */
  apply(diff: MapStateDiff): void {
    for (const r of [...diff.added, ...diff.changed]) this.set(r.key, r.entry);
    for (const r of diff.removed) this.delete(r.key);
  }
}

/** The diff that turns `from` into `to`. */
export function diffMapStates(from: MapState, to: MapState): MapStateDiff {
  const added: MapStateRow[] = [];
  const changed: MapStateRow[] = [];
  const removed: MapStateRow[] = [];
  for (const r of to.rows()) {
    const old = from.get(r.key);
    if (!old) added.push(r);
    else if (!entriesEqual(old, r.entry)) changed.push(r);
  }
  for (const r of from.rows()) if (!to.get(r.key)) removed.push(r);
  return { added, changed, removed };
}

/** True when two states hold the same keys with equal entries. */
export function mapStatesEqual(a: MapState, b: MapState): boolean {
  const d = diffMapStates(a, b);
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}
