/**
 * Entry groups: the keys of one direction+identity of a map state (their protocol/port sub-keys,
 * ascending, with the entries alongside). A group is immutable, so one group object is shared by
 * every identity that gets the same entries and by every state holding it; changing one key
 * builds a new group.
 */
import type { PolicyEntry } from './mapstate-types.ts';
import { lowerBound, positionOf } from './sorted-ids.ts';

/** The sub-keys (ascending) and entries of one direction+identity. Never mutate one. */
export interface EntryGroup {
  readonly subs: readonly number[];
  readonly entries: readonly PolicyEntry[];
}

/** Position of `sub` in a group, or -1. */
export function indexOfSub(group: EntryGroup, sub: number): number {
  return positionOf(group.subs, sub);
}

/** A group from entries keyed by sub-key (undefined when empty). */
export function groupOf(entries: ReadonlyMap<number, PolicyEntry>): EntryGroup | undefined {
  if (entries.size === 0) return undefined;
  const subs = [...entries.keys()].sort((a, b) => a - b);
  return { subs, entries: subs.map((s) => entries.get(s)!) };
}

/** `group` with `sub` set to `entry` (a new group). */
export function groupWith(group: EntryGroup | undefined, sub: number, entry: PolicyEntry): EntryGroup {
  if (!group) return { subs: [sub], entries: [entry] };
  const subs = [...group.subs];
  const entries = [...group.entries];
  const at = indexOfSub(group, sub);
  if (at >= 0) {
    entries[at] = entry;
    return { subs, entries };
  }
  const i = lowerBound(subs, sub);
  subs.splice(i, 0, sub);
  entries.splice(i, 0, entry);
  return { subs, entries };
}

/** `group` without its key at position `at` (a new group; undefined when nothing is left). */
export function groupWithout(group: EntryGroup, at: number): EntryGroup | undefined {
  if (group.subs.length === 1) return undefined;
  return { subs: group.subs.filter((_, i) => i !== at), entries: group.entries.filter((_, i) => i !== at) };
}
