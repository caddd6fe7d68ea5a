/**
 * The selector cache: every distinct peer selector is resolved once into a sorted list of
 * identities and kept up to date as identities come and go.
 *
 * Flow: `addSelector(spec, listener)` registers a user (reference counted per listener) and
 * returns the current selection; `updateIdentities(added, removed)` changes the identity set,
 * computes per-selector deltas, swaps in new sorted arrays (old arrays are never mutated, so a
 * reader holding one sees a consistent snapshot) and then notifies listeners, in registration
 * order, after all selectors were updated.
 * The wildcard selector always selects exactly identity 0 (the "any identity" key).
 */
import type { LabelSet } from '../identity/labels.ts';
import type { PeerSelector } from './api/model.ts';
import { compileSelector, selectorKey } from './selector-match.ts';

/** Called with the identities a selector gained and lost (both sorted). */
export type SelectionListener = (selector: string, added: readonly number[], removed: readonly number[]) => void;

interface CachedSelector {
  readonly key: string;
  readonly spec: PeerSelector;
  readonly match: (labels: LabelSet) => boolean;
  selections: readonly number[];
  readonly users: Map<SelectionListener, number>;
}

function insertSorted(arr: readonly number[], add: readonly number[], remove: ReadonlySet<number>): number[] {
  const out: number[] = [];
  let j = 0;
  for (const v of arr) {
    while (j < add.length && add[j]! < v) out.push(add[j++]!);
    if (j < add.length && add[j] === v) j++;
    if (!remove.has(v)) out.push(v);
  }
  while (j < add.length) out.push(add[j++]!);
  return out;
}

/** The shared, incrementally maintained selector → identities cache. */
export class SelectorCache {
  readonly #identities = new Map<number, LabelSet>();
  readonly #selectors = new Map<string, CachedSelector>();

  /** Number of distinct selectors in the cache. */
  get selectorCount(): number {
    return this.#selectors.size;
  }

  /** Number of known identities. */
  get identityCount(): number {
    return this.#identities.size;
  }

  /** Labels of a known identity. */
  identityLabels(id: number): LabelSet | undefined {
    return this.#identities.get(id);
  }

  /** Registers `listener` as a user of `spec`; returns the selector key and current selection. */
  addSelector(spec: PeerSelector, listener: SelectionListener): { key: string; selections: readonly number[] } {
    const key = selectorKey(spec);
    let cs = this.#selectors.get(key);
    if (!cs) {
      const match = compileSelector(spec);
      const selections = spec.kind === 'wildcard'
        ? [0]
        : [...this.#identities].filter(([, labels]) => match(labels)).map(([id]) => id).sort((a, b) => a - b);
      cs = { key, spec, match, selections, users: new Map() };
      this.#selectors.set(key, cs);
    }
    cs.users.set(listener, (cs.users.get(listener) ?? 0) + 1);
    return { key, selections: cs.selections };
  }

  /** Drops one use of `key` by `listener`; the selector is forgotten when nobody uses it. */
  removeSelector(key: string, listener: SelectionListener): void {
    const cs = this.#selectors.get(key);
    if (!cs) return;
    const n = (cs.users.get(listener) ?? 0) - 1;
    if (n > 0) cs.users.set(listener, n);
    else cs.users.delete(listener);
    if (cs.users.size === 0) this.#selectors.delete(key);
  }

  /** The sorted identities `key` selects (empty for an unknown key). */
  selections(key: string): readonly number[] {
    return this.#selectors.get(key)?.selections ?? [];
  }

  /** Every selector key with its spec and number of users (for `policy selectors`-style output). */
  dump(): { key: string; spec: PeerSelector; users: number; identities: readonly number[] }[] {
    return [...this.#selectors.values()].map((c) => ({ key: c.key, spec: c.spec, users: c.users.size, identities: c.selections }));
  }

  /**
   * Adds or relabels identities and removes others, then notifies listeners of every selector
   * whose selection changed. An id in both lists is treated as relabelled.
   */
  updateIdentities(added: Iterable<readonly [number, LabelSet]>, removed: Iterable<number> = []): void {
    const addList = [...added];
    const gone = new Set(removed);
    for (const id of gone) this.#identities.delete(id);
    for (const [id, labels] of addList) this.#identities.set(id, labels);
    const touched = new Set([...gone, ...addList.map(([id]) => id)]);
    if (touched.size === 0) return;
    const notes: [CachedSelector, number[], number[]][] = [];
    for (const cs of this.#selectors.values()) {
      if (cs.spec.kind === 'wildcard') continue;
      const plus: number[] = [];
      const minus: number[] = [];
      for (const id of touched) {
        const labels = this.#identities.get(id);
        const now = labels !== undefined && cs.match(labels);
        const before = sortedIncludes(cs.selections, id);
        if (now && !before) plus.push(id);
        else if (!now && before) minus.push(id);
      }
      if (plus.length === 0 && minus.length === 0) continue;
      plus.sort((a, b) => a - b);
      minus.sort((a, b) => a - b);
      cs.selections = insertSorted(cs.selections, plus, new Set(minus));
      notes.push([cs, plus, minus]);
    }
    for (const [cs, plus, minus] of notes) {
      for (const listener of [...cs.users.keys()]) listener(cs.key, plus, minus);
    }
  }
}

/** Binary search in a sorted list of identities. */
export function sortedIncludes(arr: readonly number[], v: number): boolean {
  let lo = 0;
  let hi = arr.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = arr[mid]!;
    if (m === v) return true;
    if (m < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
