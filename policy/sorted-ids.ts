/**
 * Operations on sorted lists of identities (ascending, no repeats), the form the selector cache
 * hands out: the union of several lists, and marking which positions of one list another selects.
 * The searches serve any ascending list of numbers (entry groups use them for sub-keys).
 */

/** Merges two sorted lists into a new sorted list without repeats. */
function mergeTwo(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x < y) {
      out.push(x);
      i++;
    } else if (y < x) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/**
 * The sorted union of sorted lists (each ascending without repeats). The same list passed twice
 * counts once; the result may be one of the inputs, so never mutate it. The two shortest lists
 * are merged first (as in Huffman coding), so a long list is copied once, not once per level.
 */
export function sortedUnion(lists: Iterable<readonly number[]>): readonly number[] {
  const inputs: (readonly number[])[] = [];
  for (const list of new Set(lists)) if (list.length > 0) inputs.push(list);
  if (inputs.length <= 1) return inputs[0] ?? [];
  inputs.sort((a, b) => a.length - b.length);
  // Merged lists come out no shorter than earlier ones, so both queues stay sorted by length.
  const merged: (readonly number[])[] = [];
  let i = 0;
  let j = 0;
  const shortest = (): readonly number[] =>
    j >= merged.length || (i < inputs.length && inputs[i]!.length <= merged[j]!.length) ? inputs[i++]! : merged[j++]!;
  for (let left = inputs.length; left > 1; left--) merged.push(mergeTwo(shortest(), shortest()));
  return merged[merged.length - 1]!;
}

/** The first position of a sorted list whose value is not below `v` (the length if none). */
export function lowerBound(list: readonly number[], v: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Position of `v` in a sorted list, or -1. */
export function positionOf(list: readonly number[], v: number): number {
  const at = lowerBound(list, v);
  return list[at] === v ? at : -1;
}

/** Changes up to which {@link withChanges} copies and splices instead of merging. */
const SPLICE_LIMIT = 16;

/**
 * A new sorted list: `list` with `add` put in and `remove` taken out (all three sorted, without
 * repeats; `add` and `remove` disjoint). A few changes are spliced into a copy; more are merged
 * in one pass.
 */
export function withChanges(list: readonly number[], add: readonly number[], remove: readonly number[]): number[] {
  if (add.length + remove.length <= SPLICE_LIMIT) {
    const out = list.slice();
    for (const v of remove) {
      const at = positionOf(out, v);
      if (at >= 0) out.splice(at, 1);
    }
    for (const v of add) {
      const at = lowerBound(out, v);
      if (out[at] !== v) out.splice(at, 0, v);
    }
    return out;
  }
  const out: number[] = [];
  let a = 0;
  let r = 0;
  for (const v of list) {
    while (a < add.length && add[a]! < v) out.push(add[a++]!);
    if (a < add.length && add[a] === v) a++;
    while (r < remove.length && remove[r]! < v) r++;
    if (r < remove.length && remove[r] === v) r++;
    else out.push(v);
  }
  while (a < add.length) out.push(add[a++]!);
  return out;
}

/**
 * For every position `p` of `ids` whose identity is also in `selected`, ORs `mask` into
 * `bits[p * stride + word]`. Both lists are sorted; whichever of a merge walk or binary searches
 * from the shorter side costs fewer steps is used.
 */
export function markSelected(
  ids: readonly number[], selected: readonly number[], bits: Uint32Array, stride: number, word: number, mask: number,
): void {
  const n = ids.length;
  const m = selected.length;
  if (n === 0 || m === 0) return;
  const walk = n + m;
  const searchIds = m * (Math.log2(n) + 1);
  const searchSelected = n * (Math.log2(m) + 1);
  if (searchIds < walk && searchIds <= searchSelected) {
    for (let k = 0; k < m; k++) {
      const p = positionOf(ids, selected[k]!);
      if (p >= 0) bits[p * stride + word]! |= mask;
    }
  } else if (searchSelected < walk) {
    for (let p = 0; p < n; p++) if (positionOf(selected, ids[p]!) >= 0) bits[p * stride + word]! |= mask;
  } else {
    let k = 0;
    for (let p = 0; p < n && k < m; p++) {
      const id = ids[p]!;
      while (k < m && selected[k]! < id) k++;
      if (k < m && selected[k] === id) bits[p * stride + word]! |= mask;
    }
  }
}
