/**
 * An inverted index over identity labels, so a new selector is resolved from the few identities
 * that can match it instead of testing every identity. It only narrows: the caller still runs the
 * selector's full predicate on each candidate.
 *
 *   label selectors   the identities carrying the key (with one of the values, for `In`) of the
 *                     requirement with the fewest such identities; none usable (only `NotIn`,
 *                     `DoesNotExist`, or no requirement): every identity;
 *   CIDR selectors    identities with `cidr:` labels (a /0 also selects world: every identity);
 *   CIDR group refs   identities carrying the group's `cidrgroup:` key;
 *   FQDN selectors    identities with `fqdn:` labels.
 *
 * Lists are sorted identities (identities mostly arrive in ascending order, so adding is a push).
 */
import { CIDR_GROUP_LABEL_PREFIX } from '../identity/cidr.ts';
import type { LabelSet, LabelSource } from '../identity/labels.ts';
import type { PeerSelector, Requirement } from './api/model.ts';
import { lowerBound, positionOf, sortedUnion } from './sorted-ids.ts';

/** Adds `id` to a sorted list (no repeats). */
function insertId(list: number[], id: number): void {
  if (list.length === 0 || list[list.length - 1]! < id) {
    list.push(id);
    return;
  }
  const at = lowerBound(list, id);
  if (list[at] !== id) list.splice(at, 0, id);
}

/** Removes `id` from a sorted list; true when the list is left empty. */
function removeId(list: number[], id: number): boolean {
  const at = positionOf(list, id);
  if (at >= 0) list.splice(at, 1);
  return list.length === 0;
}

/** Identities by label key and value (any source), and by label source. */
export class LabelIndex {
  readonly #byKey = new Map<string, Map<string, number[]>>();
  readonly #bySource = new Map<LabelSource, number[]>();

  /** Indexes identity `id` under each of its labels. */
  add(id: number, labels: LabelSet): void {
    let source: LabelSource | undefined;
    for (const l of labels.labels) {
      let values = this.#byKey.get(l.key);
      if (!values) this.#byKey.set(l.key, (values = new Map()));
      const ids = values.get(l.value);
      if (ids) insertId(ids, id);
      else values.set(l.value, [id]);
      if (l.source === source) continue;
      source = l.source;
      const sourced = this.#bySource.get(source);
      if (sourced) insertId(sourced, id);
      else this.#bySource.set(source, [id]);
    }
  }

  /** Forgets identity `id`, indexed earlier with `labels`. */
  remove(id: number, labels: LabelSet): void {
    for (const l of labels.labels) {
      const values = this.#byKey.get(l.key);
      const ids = values?.get(l.value);
      if (ids && removeId(ids, id)) values!.delete(l.value);
      if (values?.size === 0) this.#byKey.delete(l.key);
      const sourced = this.#bySource.get(l.source);
      if (sourced && removeId(sourced, id)) this.#bySource.delete(l.source);
    }
  }

  /**
   * The sorted identities `sel` can select (a superset), or undefined when the index cannot
   * narrow it down (then every identity is a candidate). Never mutate the result.
   */
  candidates(sel: PeerSelector): readonly number[] | undefined {
    switch (sel.kind) {
      case 'labels':
        return this.#labelCandidates(sel.requirements);
      case 'cidr':
        return sel.cidr.endsWith('/0') ? undefined : this.#ofSource('cidr');
      case 'cidrgroup':
        return sortedUnion(this.#withKey(CIDR_GROUP_LABEL_PREFIX + sel.group, undefined));
      case 'fqdn':
        return this.#ofSource('fqdn');
      case 'wildcard':
        return [];
    }
  }

  #ofSource(source: LabelSource): readonly number[] {
    return this.#bySource.get(source) ?? [];
  }

  /** The lists of identities carrying `key` (with one of `values`, when given). */
  #withKey(key: string, values: readonly string[] | undefined): (readonly number[])[] {
    const byValue = this.#byKey.get(key);
    if (!byValue) return [];
    if (values === undefined) return [...byValue.values()];
    const out: (readonly number[])[] = [];
    for (const v of values) {
      const ids = byValue.get(v);
      if (ids) out.push(ids);
    }
    return out;
  }

  #labelCandidates(requirements: readonly Requirement[]): readonly number[] | undefined {
    let best: (readonly number[])[] | undefined;
    let bestSize = Infinity;
    for (const r of requirements) {
      if (r.operator !== 'In' && r.operator !== 'Exists') continue;
      const lists = this.#withKey(r.key, r.operator === 'In' ? r.values : undefined);
      let size = 0;
      for (const list of lists) size += list.length;
      if (size < bestSize) [best, bestSize] = [lists, size];
    }
    return best && sortedUnion(best);
  }
}
