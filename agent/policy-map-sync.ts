/**
 * Converges one endpoint's BPF policy map toward its computed map state. Diffs from the policy engine
 * are applied add-before-delete, so no packet meets a moment in which neither the old nor the new
 * entry exists; `reconcile()` compares a dump of the kernel map with the desired rows and repairs any
 * drift, returning what it fixed (the agent counts it in a metric).
 */
import type { MapStateDiff, MapStateRow } from '../policy/mapstate-types.ts';
import { policyBlockEntry, type PolicyMap } from '../datapath/maps/policy.ts';
import type { PolicyEntry as BpfEntry, PolicyKey as BpfKey } from '../datapath/codecs/generated.ts';
import { EntryIds } from './entry-ids.ts';

/** One kernel row: key and value as the BPF map holds them. */
export type BpfPolicyRow = [BpfKey, BpfEntry];

/** The kernel row of one map-state row (map-state keys are already aligned port blocks). */
export function bpfRowsOf(row: MapStateRow, entryId: number): BpfPolicyRow[] {
  const k = row.key;
  return [policyBlockEntry({
    direction: k.direction,
    identity: k.identity,
    protocol: k.protocol,
    deny: row.entry.deny,
    ...(row.entry.proxyPort ? { proxyPort: row.entry.proxyPort } : {}),
    entryId,
  }, k.port, k.portPrefixLen)];
}

/** The kernel keys of a map-state row (the entry id only affects values). */
export function bpfKeysOf(row: MapStateRow): BpfKey[] {
  return bpfRowsOf(row, 1).map(([key]) => key);
}

function bpfKeyString(k: BpfKey): string {
  return `${k.prefixlen}/${k.secLabel}/${k.egress}/${k.protocol}/${k.dport}`;
}

function sameEntry(a: BpfEntry, b: BpfEntry): boolean {
  return a.proxyPort === b.proxyPort && a.flags === b.flags && a.prefixLen === b.prefixLen && a.entryId === b.entryId;
}

/** What `reconcile()` found and repaired. */
export interface DriftReport {
  /** Rows that were missing or wrong in the kernel and were written. */
  repaired: number;
  /** Rows the kernel had that were not desired and were removed. */
  pruned: number;
}

/** The agent's handle on one endpoint's policy map. */
export class EndpointPolicyMap {
  readonly ids: EntryIds;
  readonly #desired = new Map<string, BpfPolicyRow>();

  #map: PolicyMap;

  constructor(map: PolicyMap, ids = new EntryIds()) {
    this.#map = map;
    this.ids = ids;
  }

  /** The kernel map written to. */
  get map(): PolicyMap {
    return this.#map;
  }

  /** Applies a map-state diff: added and changed rows first, then removals. */
  apply(diff: MapStateDiff): void {
    const upserts: BpfPolicyRow[] = [];
    for (const row of [...diff.added, ...diff.changed]) {
      for (const r of bpfRowsOf(row, this.ids.assign(row))) {
        upserts.push(r);
        this.#desired.set(bpfKeyString(r[0]), r);
      }
    }
    this.map.updateBatch(upserts);
    const upserted = new Set(upserts.map(([k]) => bpfKeyString(k)));
    const removals: BpfKey[] = [];
    for (const row of diff.removed) {
      for (const key of bpfKeysOf(row)) {
        const ks = bpfKeyString(key);
        // A removed block may have been re-added in the same diff under another row: keep it then.
        if (upserted.has(ks)) continue;
        this.#desired.delete(ks);
        removals.push(key);
      }
      this.ids.release(row.key);
    }
    this.map.deleteBatch(removals);
  }

  /**
   * Replaces the whole content with `rows` (used at start-up and after a restart). Keys the kernel
   * map already holds keep their entry ids, which its conntrack entries and counters carry.
   */
  replace(rows: Iterable<MapStateRow>): DriftReport {
    this.#desired.clear();
    const held = new Map(this.map.entries().map(([k, v]) => [bpfKeyString(k), v.entryId] as const));
    for (const row of rows) {
      const id = this.ids.assign(row, held.get(bpfKeyString(bpfKeysOf(row)[0]!)));
      for (const r of bpfRowsOf(row, id)) this.#desired.set(bpfKeyString(r[0]), r);
    }
    return this.reconcile();
  }

  /** Compares the kernel map with the desired rows; writes what is missing or wrong, deletes the rest. */
  reconcile(): DriftReport {
    const actual = new Map(this.map.entries().map((r) => [bpfKeyString(r[0]), r] as const));
    const write: BpfPolicyRow[] = [];
    for (const [ks, want] of this.#desired) {
      const have = actual.get(ks);
      if (!have || !sameEntry(have[1], want[1])) write.push(want);
    }
    const prune = [...actual].filter(([ks]) => !this.#desired.has(ks)).map(([, r]) => r[0]);
    this.map.updateBatch(write);
    this.map.deleteBatch(prune);
    return { repaired: write.length, pruned: prune.length };
  }

  /** The map-state row behind a kernel entry id: the rules that allowed or denied a packet. */
  explain(entryId: number): MapStateRow | undefined {
    return this.ids.row(entryId);
  }
}
