/**
 * MapState: the per-endpoint policy map as a keyed collection, with an index for lookups and
 * diffs between states. Keys are stored packed in two halves (direction+identity, then
 * protocol+port+prefix, see mapstate-types.ts) so both stay small integers; the keys of one
 * direction+identity form an immutable entry group (entry-group.ts). Entries and groups are
 * shared between keys and states, so never mutate one.
 */
import type { Direction } from './api/model.ts';
import { type EntryGroup, groupWith, groupWithout, indexOfSub } from './entry-group.ts';
import { PagedTable } from './paged-table.ts';
import {
  type MapStateDiff, type MapStateRow, type PolicyEntry, type PolicyKey, decodeParts, identityIndex, subKey,
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

/** A row whose key is decoded from its packed halves on first access. */
class PackedRow implements MapStateRow {
  #key: PolicyKey | undefined;
  constructor(readonly index: number, readonly sub: number, readonly entry: PolicyEntry) {}
  get key(): PolicyKey {
    return (this.#key ??= decodeParts(this.index, this.sub));
  }
}

/** Where the rows of a change go. */
export interface RowSink {
  readonly added: MapStateRow[];
  readonly changed: MapStateRow[];
  readonly removed: MapStateRow[];
}

/**
 * A mutable policy map state: per packed direction+identity, an immutable {@link EntryGroup}
 * (groups are shared between identities and states, so a computed group is stored as is).
 */
export class MapState {
  readonly #groups = new PagedTable<EntryGroup>();
  #size = 0;

  /** Builds a state from rows. */
  static of(rows: Iterable<MapStateRow>): MapState {
    const s = new MapState();
    for (const r of rows) s.set(r.key, r.entry);
    return s;
  }

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** The entry for `key`, if any. */
  get(key: PolicyKey): PolicyEntry | undefined {
    return this.getPacked(identityIndex(key.direction, key.identity), subKey(key.protocol, key.port, key.portPrefixLen));
  }

  /** Sets an entry. */
  set(key: PolicyKey, entry: PolicyEntry): void {
    this.setPacked(identityIndex(key.direction, key.identity), subKey(key.protocol, key.port, key.portPrefixLen), entry);
  }

  /** Removes an entry; returns the removed row. */
  delete(key: PolicyKey): MapStateRow | undefined {
    const entry = this.deletePacked(identityIndex(key.direction, key.identity), subKey(key.protocol, key.port, key.portPrefixLen));
    return entry && { key, entry };
  }

  /** The entry under a packed key. */
  getPacked(index: number, sub: number): PolicyEntry | undefined {
    const group = this.#groups.get(index);
    if (!group) return undefined;
    const at = indexOfSub(group, sub);
    return at < 0 ? undefined : group.entries[at];
  }

  /** Sets the entry under a packed key. */
  setPacked(index: number, sub: number, entry: PolicyEntry): void {
    const group = this.#groups.get(index);
    if (!group || indexOfSub(group, sub) < 0) this.#size++;
    this.#groups.set(index, groupWith(group, sub, entry));
  }

  /** Removes a packed key; returns the removed entry. */
  deletePacked(index: number, sub: number): PolicyEntry | undefined {
    const group = this.#groups.get(index);
    const at = group ? indexOfSub(group, sub) : -1;
    if (!group || at < 0) return undefined;
    const rest = groupWithout(group, at);
    if (rest) this.#groups.set(index, rest);
    else this.#groups.delete(index);
    this.#size--;
    return group.entries[at];
  }

  /** Sub-key halves stored for one packed direction+identity, ascending (do not mutate). */
  subsOf(index: number): readonly number[] {
    return this.#groups.get(index)?.subs ?? NONE;
  }

  /** The keys of one packed direction+identity (shared: never mutate it). */
  groupAt(index: number): EntryGroup | undefined {
    return this.#groups.get(index);
  }

  /**
   * Replaces every key of one packed direction+identity with those of `group` (stored as is, so it
   * must never be mutated), recording the added, changed and removed rows in `sink`.
   */
  replaceGroup(index: number, group: EntryGroup | undefined, sink: RowSink): void {
    const from = this.#groups.get(index);
    if (from === group) return;
    if (group) this.#groups.set(index, group);
    else this.#groups.delete(index);
    this.#size += (group?.subs.length ?? 0) - (from?.subs.length ?? 0);
    if (!from || !group) {
      pushRows(from ? sink.removed : sink.added, index, (from ?? group)!);
      return;
    }
    const fs = from.subs;
    const ts = group.subs;
    let i = 0;
    let j = 0;
    while (i < fs.length || j < ts.length) {
      const f = i < fs.length ? fs[i]! : Infinity;
      const t = j < ts.length ? ts[j]! : Infinity;
      if (f < t) {
        sink.removed.push(new PackedRow(index, f, from.entries[i++]!));
      } else if (t < f) {
        sink.added.push(new PackedRow(index, t, group.entries[j++]!));
      } else {
        const next = group.entries[j++]!;
        if (!entriesEqual(from.entries[i++]!, next)) sink.changed.push(new PackedRow(index, t, next));
      }
    }
  }

  /** Rows keyed by one direction and remote identity. */
  rowsFor(direction: Direction, identity: number): MapStateRow[] {
    const index = identityIndex(direction, identity);
    const group = this.#groups.get(index);
    const out: MapStateRow[] = [];
    if (group) pushRows(out, index, group);
    return out;
  }

  /** All rows, sorted by identity, direction, then protocol/port. */
  rows(): MapStateRow[] {
    const out: MapStateRow[] = [];
    for (const [index, group] of this.#groups.entries()) pushRows(out, index, group);
    return out;
  }

  /** Applies a diff in datapath order (adds and changes, then removes). */
  apply(diff: MapStateDiff): void {
    for (const r of [...diff.added, ...diff.changed]) this.set(r.key, r.entry);
    for (const r of diff.removed) this.delete(r.key);
  }
}

const NONE: readonly number[] = Object.freeze([]);

/** Appends a row per key of `group` (direction+identity `index`) to `out`. */
function pushRows(out: MapStateRow[], index: number, group: EntryGroup): void {
  for (let i = 0; i < group.subs.length; i++) out.push(new PackedRow(index, group.subs[i]!, group.entries[i]!));
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
