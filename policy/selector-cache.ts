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
 *
 * With `cidrMatchesEndpoints`, CIDR selectors marked `endpointAddresses` (NetworkPolicy ipBlock)
 * also select identities by their endpoints' addresses, which `setIdentityAddresses` keeps.
 */
import { parsePrefix, type Prefix } from '../identity/cidr.ts';
import type { LabelSet } from '../identity/labels.ts';
import type { PeerSelector } from './api/model.ts';
import { LabelIndex } from './label-index.ts';
import { cidrSelectsAddresses, compileSelector, selectorKey } from './selector-match.ts';
import { positionOf, withChanges } from './sorted-ids.ts';

/** Called with the identities a selector gained and lost (both sorted). */
export type SelectionListener = (selector: string, added: readonly number[], removed: readonly number[]) => void;

interface CachedSelector {
  readonly key: string;
  readonly spec: PeerSelector;
  readonly match: (labels: LabelSet) => boolean;
  /** Also selects by endpoint addresses (an ipBlock under `cidrMatchesEndpoints`). */
  readonly byAddress: boolean;
  selections: readonly number[];
  readonly users: Map<SelectionListener, number>;
}

/** The shared, incrementally maintained selector → identities cache. */
export class SelectorCache {
  readonly #identities = new Map<number, LabelSet>();
  readonly #selectors = new Map<string, CachedSelector>();
  readonly #index = new LabelIndex();
  readonly #addresses = new Map<number, readonly Prefix[]>();
  readonly #cidrMatchesEndpoints: boolean;

  /** @param options.cidrMatchesEndpoints ipBlock selectors also select endpoints by address (`policy-cidr-match-mode` pods). */
  constructor(options: { cidrMatchesEndpoints?: boolean } = {}) {
    this.#cidrMatchesEndpoints = options.cidrMatchesEndpoints ?? false;
  }

  /** Number of distinct selectors in the cache. */
  get selectorCount(): number {
    return this.#selectors.size;
  }

  /** Number of known identities. */
  get identityCount(): number {
    return this.#identities.size;
  }

  /** The numbers of every known identity. */
  identityIds(): IterableIterator<number> {
    return this.#identities.keys();
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
      const byAddress = this.#cidrMatchesEndpoints && spec.kind === 'cidr' && spec.endpointAddresses === true;
      cs = { key, spec, match, byAddress, selections: [], users: new Map() };
      cs.selections = spec.kind === 'wildcard' ? [0] : this.#select(cs);
      this.#selectors.set(key, cs);
    }
    cs.users.set(listener, (cs.users.get(listener) ?? 0) + 1);
    return { key, selections: cs.selections };
  }

  /** The sorted identities a selector selects, testing only the index's candidates when it has them. */
  #select(cs: CachedSelector): number[] {
    const out: number[] = [];
    const candidates = cs.byAddress ? undefined : this.#index.candidates(cs.spec);
    if (candidates !== undefined) {
      for (const id of candidates) if (cs.match(this.#identities.get(id)!)) out.push(id);
      return out;
    }
    for (const id of this.#identities.keys()) if (this.#selects(cs, id)) out.push(id);
    return out.sort((a, b) => a - b);
  }

  /** Whether a selector selects a known identity now. */
  #selects(cs: CachedSelector, id: number): boolean {
    const labels = this.#identities.get(id);
    if (labels === undefined) return false;
    if (cs.match(labels)) return true;
    return cs.byAddress && cs.spec.kind === 'cidr' && cidrSelectsAddresses(cs.spec, this.#addresses.get(id));
  }

  /**
   * Sets the addresses of identities' endpoints (an empty list forgets them), then notifies
   * listeners of the address-matching selectors whose selection changed.
   */
  setIdentityAddresses(changes: Iterable<readonly [number, readonly string[]]>): void {
    const touched = new Set<number>();
    for (const [id, addresses] of changes) {
      const prefixes = addresses.map((a) => parsePrefix(a.includes('/') ? a : `${a}/32`)).filter((p) => p !== undefined);
      if (prefixes.length > 0) this.#addresses.set(id, prefixes);
      else if (!this.#addresses.delete(id)) continue;
      touched.add(id);
    }
    if (touched.size > 0 && this.#cidrMatchesEndpoints) this.#reselect(touched, (cs) => cs.byAddress);
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

  /** Drops a known identity and its index entries. */
  #forget(id: number): void {
    const labels = this.#identities.get(id);
    if (labels === undefined) return;
    this.#identities.delete(id);
    this.#index.remove(id, labels);
  }

  /**
   * Adds or relabels identities and removes others, then notifies listeners of every selector
   * whose selection changed. An id in both lists is treated as relabelled.
   */
  updateIdentities(added: Iterable<readonly [number, LabelSet]>, removed: Iterable<number> = []): void {
    const addList = [...added];
    const gone = new Set(removed);
    for (const id of gone) this.#forget(id);
    for (const [id, labels] of addList) {
      this.#forget(id);
      this.#identities.set(id, labels);
      this.#index.add(id, labels);
    }
    const touched = new Set([...gone, ...addList.map(([id]) => id)]);
    if (touched.size > 0) this.#reselect(touched, () => true);
  }

  /** Re-tests `touched` identities against the selectors `which` picks; notifies after all are updated. */
  #reselect(touched: ReadonlySet<number>, which: (cs: CachedSelector) => boolean): void {
    const notes: [CachedSelector, number[], number[]][] = [];
    for (const cs of this.#selectors.values()) {
      if (cs.spec.kind === 'wildcard' || !which(cs)) continue;
      const plus: number[] = [];
      const minus: number[] = [];
      for (const id of touched) {
        const now = this.#selects(cs, id);
        const before = positionOf(cs.selections, id) >= 0;
        if (now && !before) plus.push(id);
        else if (!now && before) minus.push(id);
      }
      if (plus.length === 0 && minus.length === 0) continue;
      plus.sort((a, b) => a - b);
      minus.sort((a, b) => a - b);
      cs.selections = withChanges(cs.selections, plus, minus);
      notes.push([cs, plus, minus]);
    }
    for (const [cs, plus, minus] of notes) {
      for (const listener of [...cs.users.keys()]) listener(cs.key, plus, minus);
    }
  }
}
