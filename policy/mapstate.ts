/**
 * MapState: the per-endpoint policy map as a keyed collection, with an index for lookups and
 * diffs between states.
 */
import type { Direction } from './api/model.ts';
import { type MapStateDiff, type MapStateRow, type PolicyEntry, type PolicyKey, keyString } from './mapstate-types.ts';

/** Canonical text of an entry, for equality. */
export function entryFingerprint(e: PolicyEntry): string {
  return JSON.stringify([e.deny, e.proxyPort, e.redirect ?? null, e.derivedFrom]);
}

/** A mutable policy map state. */
export class MapState {
  readonly #rows = new Map<string, MapStateRow>();
  readonly #byIdentity = new Map<string, Set<string>>();

  /** Builds a state from rows. */
  static of(rows: Iterable<MapStateRow>): MapState {
    const s = new MapState();
    for (const r of rows) s.set(r.key, r.entry);
    return s;
  }

  /** Number of entries. */
  get size(): number {
    return this.#rows.size;
  }

  /** The entry for `key`, if any. */
  get(key: PolicyKey): PolicyEntry | undefined {
    return this.#rows.get(keyString(key))?.entry;
  }

  /** Sets an entry. */
  set(key: PolicyKey, entry: PolicyEntry): void {
    const ks = keyString(key);
    this.#rows.set(ks, { key, entry });
    const ik = `${key.direction}/${key.identity}`;
    let set = this.#byIdentity.get(ik);
    if (!set) this.#byIdentity.set(ik, (set = new Set()));
    set.add(ks);
  }

  /** Removes an entry; returns the removed row. */
  delete(key: PolicyKey): MapStateRow | undefined {
    const ks = keyString(key);
    const row = this.#rows.get(ks);
    if (!row) return undefined;
    this.#rows.delete(ks);
    const ik = `${key.direction}/${key.identity}`;
    const set = this.#byIdentity.get(ik);
    set?.delete(ks);
    if (set?.size === 0) this.#byIdentity.delete(ik);
    return row;
  }

  /** Rows keyed by one direction and remote identity. */
  rowsFor(direction: Direction, identity: number): MapStateRow[] {
    const set = this.#byIdentity.get(`${direction}/${identity}`);
    return set ? [...set].map((k) => this.#rows.get(k)!) : [];
  }

  /** All rows, sorted by key text (stable output). */
  rows(): MapStateRow[] {
    return [...this.#rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
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
    else if (entryFingerprint(old) !== entryFingerprint(r.entry)) changed.push(r);
  }
  for (const r of from.rows()) if (!to.get(r.key)) removed.push(r);
  return { added, changed, removed };
}

/** True when two states hold the same keys with equal entries. */
export function mapStatesEqual(a: MapState, b: MapState): boolean {
  const d = diffMapStates(a, b);
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}
