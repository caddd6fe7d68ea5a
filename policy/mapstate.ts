/**
 * MapState: the per-endpoint policy map as a keyed collection, with an index for lookups and
 * diffs between states. Keys are stored packed in two halves (direction+identity, then
 * protocol+port+prefix, see mapstate-types.ts) so both stay small integers; entries are often
 * shared between keys, so never mutate one.
 */
import type { Direction } from './api/model.ts';
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

/** A row for a packed key (the key object is only built when read). */
export function packedRow(index: number, sub: number, entry: PolicyEntry): MapStateRow {
  return new PackedRow(index, sub, entry);
}

/** The keys (sub-key halves) and entries of one direction+identity holding several keys. */
interface Slot {
  readonly subs: number[];
  readonly entries: PolicyEntry[];
}

/**
 * A mutable policy map state. Most direction+identity pairs hold one key, so those live in two
 * flat maps (no per-key object); pairs with more keys get a {@link Slot}.
 */
export class MapState {
  readonly #oneSub = new Map<number, number>();
  readonly #oneEntry = new Map<number, PolicyEntry>();
  readonly #slots = new Map<number, Slot>();
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
    if (this.#oneSub.get(index) === sub) return this.#oneEntry.get(index);
    const slot = this.#slots.get(index);
    if (!slot) return undefined;
    const i = slot.subs.indexOf(sub);
    return i < 0 ? undefined : slot.entries[i];
  }

  /** Sets the entry under a packed key. */
  setPacked(index: number, sub: number, entry: PolicyEntry): void {
    const one = this.#oneSub.get(index);
    if (one === sub) {
      this.#oneEntry.set(index, entry);
      return;
    }
    const slot = this.#slots.get(index);
    if (one === undefined && !slot) {
      this.#oneSub.set(index, sub);
      this.#oneEntry.set(index, entry);
      this.#size++;
      return;
    }
    if (one !== undefined) {
      this.#slots.set(index, { subs: [one, sub], entries: [this.#oneEntry.get(index)!, entry] });
      this.#oneSub.delete(index);
      this.#oneEntry.delete(index);
      this.#size++;
      return;
    }
    const i = slot!.subs.indexOf(sub);
    if (i >= 0) {
      slot!.entries[i] = entry;
      return;
    }
    slot!.subs.push(sub);
    slot!.entries.push(entry);
    this.#size++;
  }

  /** Removes a packed key; returns the removed entry. */
  deletePacked(index: number, sub: number): PolicyEntry | undefined {
    if (this.#oneSub.get(index) === sub) {
      const entry = this.#oneEntry.get(index);
      this.#oneSub.delete(index);
      this.#oneEntry.delete(index);
      this.#size--;
      return entry;
    }
    const slot = this.#slots.get(index);
    const i = slot ? slot.subs.indexOf(sub) : -1;
    if (!slot || i < 0) return undefined;
    const entry = slot.entries[i]!;
    slot.subs.splice(i, 1);
    slot.entries.splice(i, 1);
    if (slot.subs.length === 1) {
      this.#slots.delete(index);
      this.#oneSub.set(index, slot.subs[0]!);
      this.#oneEntry.set(index, slot.entries[0]!);
    }
    this.#size--;
    return entry;
  }

  /** Sub-key halves stored for one packed direction+identity (do not mutate). */
  subsOf(index: number): readonly number[] {
    const one = this.#oneSub.get(index);
    if (one !== undefined) return [one];
    return this.#slots.get(index)?.subs ?? NONE;
  }

  /** Rows keyed by one direction and remote identity. */
  rowsFor(direction: Direction, identity: number): MapStateRow[] {
    const index = identityIndex(direction, identity);
    return this.subsOf(index).map((sub) => packedRow(index, sub, this.getPacked(index, sub)!));
  }

  /** All rows, sorted by identity, direction, then protocol/port. */
  rows(): MapStateRow[] {
    const out: MapStateRow[] = [];
    const indexes = [...this.#oneSub.keys(), ...this.#slots.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      for (const sub of [...this.subsOf(index)].sort((a, b) => a - b)) out.push(packedRow(index, sub, this.getPacked(index, sub)!));
    }
    return out;
  }

  /** Applies a diff in datapath order (adds and changes, then removes). */
  apply(diff: MapStateDiff): void {
    for (const r of [...diff.added, ...diff.changed]) this.set(r.key, r.entry);
    for (const r of diff.removed) this.delete(r.key);
  }
}

const NONE: readonly number[] = Object.freeze([]);

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
