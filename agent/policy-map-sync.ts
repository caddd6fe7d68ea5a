/**
 * One endpoint's BPF policy map as a desired table reconciled into the kernel. Diffs from the policy
 * engine become table changes (the reconciler writes upserts before deletes, so no packet meets a
 * moment in which neither the old nor the new entry exists); a row the kernel refuses stays in error
 * with its message and is retried, and never keeps the other rows from their writes.
 *
 * A full map is a row status, not an exception: a row for which no entry id is left
 * (`bpf-policy-map-max`) is held pending (not an error: nothing was refused), waiting for an entry id
 * with a message naming the map, until a removal frees one. What the kernel already enforces stays, and deny rows
 * take ids and room before allow rows, so an overflow never drops a deny while writing its allow.
 * `reconcile()` compares a dump of the kernel map with the rows, repairs drift and prunes the rest,
 * returning what it fixed (the agent counts it in a metric).
 */
import type { MapStateDiff, MapStateRow } from '../policy/mapstate-types.ts';
import { policyBlockEntry, type PolicyMap } from '../datapath/maps/policy.ts';
import type { PolicyEntry as BpfEntry, PolicyKey as BpfKey } from '../datapath/codecs/generated.ts';
import { bpfMapOps } from '../datapath/maps/map-ops.ts';
import { TableReconciler, type TableReconcilerObserver } from '../runtime/reconciler/reconciler.ts';
import { DesiredTable, type Row } from '../runtime/reconciler/table.ts';
import type { Logger } from '../runtime/logger.ts';
import { EntryIds } from './entry-ids.ts';

/** One kernel row: key and value as the BPF map holds them. */
export type BpfPolicyRow = [BpfKey, BpfEntry];

/** The kernel row of one map-state row (map-state keys are already aligned port blocks); entry id 0: none left. */
export function bpfRowsOf(row: MapStateRow, entryId: number): BpfPolicyRow[] {
  const k = row.key;
  const [key, value] = policyBlockEntry({
    direction: k.direction,
    identity: k.identity,
    protocol: k.protocol,
    deny: row.entry.deny,
    ...(row.entry.proxyPort ? { proxyPort: row.entry.proxyPort } : {}),
    entryId: entryId || 1,
  }, k.port, k.portPrefixLen);
  return [[key, { ...value, entryId }]];
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

/** The origin recorded on a row: the first rule behind it. */
function originOf(row: MapStateRow): string {
  const o = row.entry.derivedFrom[0];
  if (!o) return 'policy';
  return o.kind === 'Implicit' ? `Implicit/${o.name}` : `${o.kind}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

/**
 * Rows in the order they take entry ids and kernel room: deny rows first, so a map that fills up
 * leaves allows out before denies (never a deny lost while the allow it overrides is written).
 */
function denyFirst(rows: Iterable<MapStateRow>): MapStateRow[] {
  const list = [...rows];
  return [...list.filter((r) => r.entry.deny), ...list.filter((r) => !r.entry.deny)];
}

/** What `reconcile()` found and repaired. */
export interface DriftReport {
  /** Rows that were missing or wrong in the kernel and were written. */
  repaired: number;
  /** Rows the kernel had that were not desired and were removed. */
  pruned: number;
}

/** A row not in the kernel: refused by it (error) or waiting for an entry id (pending). */
export interface UnwrittenRow {
  id: string;
  origin: string;
  message: string;
}

/** Options of an {@link EndpointPolicyMap}. */
export interface EndpointPolicyMapOptions {
  /** The map's name in errors, metrics and health (default `cilium_policy_v2`). */
  name?: string;
  log?: Logger;
  observer?: TableReconcilerObserver;
}

/** The agent's handle on one endpoint's policy map. */
export class EndpointPolicyMap {
  readonly ids: EntryIds;
  /** The desired kernel rows. */
  readonly table: DesiredTable<BpfKey, BpfEntry>;
  /** Writes `table` into the map; enabled at once. */
  readonly reconciler: TableReconciler;
  /** Map-state rows held without an entry id (the map was full), by kernel key. */
  readonly #waiting = new Map<string, MapStateRow>();
  readonly #name: string;

  #map: PolicyMap;

  constructor(map: PolicyMap, ids = new EntryIds(), opts: EndpointPolicyMapOptions = {}) {
    this.#map = map;
    this.ids = ids;
    const name = (this.#name = opts.name ?? 'cilium_policy_v2');
    this.table = new DesiredTable<BpfKey, BpfEntry>(name, bpfKeyString, sameEntry);
    this.reconciler = new TableReconciler({
      name, tables: [{ table: this.table, ops: bpfMapOps(this.#map) }], ...(opts.log ? { log: opts.log } : {}), ...(opts.observer ? { observer: opts.observer } : {}),
    });
    this.reconciler.enable();
  }

  /** The kernel map written to. */
  get map(): PolicyMap {
    return this.#map;
  }

  /** Applies a map-state diff: added and changed rows are written first, then removals. */
  apply(diff: MapStateDiff): void {
    this.table.batch(() => {
      const upserted = new Set<string>();
      for (const row of denyFirst([...diff.added, ...diff.changed])) {
        for (const r of this.#set(row)) upserted.add(bpfKeyString(r));
      }
      for (const row of diff.removed) {
        for (const key of bpfKeysOf(row)) {
          const ks = bpfKeyString(key);
          // A removed block may have been re-added in the same diff under another row: keep it then.
          if (upserted.has(ks)) continue;
          this.#waiting.delete(ks);
          this.table.delete(key);
        }
        this.ids.release(row.key);
      }
      if (diff.removed.length) this.#retryWaiting();
    });
  }

  /**
   * Replaces the whole content with `rows` (used at start-up and after a restart). Keys the kernel
   * map already holds keep their entry ids, which its conntrack entries and counters carry.
   */
  replace(rows: Iterable<MapStateRow>): DriftReport {
    const held = new Map(this.map.entries().map(([k, v]) => [bpfKeyString(k), v.entryId] as const));
    this.table.batch(() => {
      const keep = new Set<string>();
      for (const row of denyFirst(rows)) {
        for (const key of this.#set(row, held.get(bpfKeyString(bpfKeysOf(row)[0]!)))) keep.add(bpfKeyString(key));
      }
      for (const r of [...this.table.rows()]) {
        if (keep.has(r.id)) continue;
        this.#waiting.delete(r.id);
        this.table.delete(r.key);
      }
    });
    // The batch wrote every row; only a map that held rows can hold some no longer wanted.
    return held.size ? this.reconcile() : { repaired: 0, pruned: 0 };
  }

  /** Puts a map-state row into the table (held without an id when none is left); returns its keys. */
  #set(row: MapStateRow, preferred?: number): BpfKey[] {
    const id = this.ids.tryAssign(row, preferred) ?? 0;
    const rows = bpfRowsOf(row, id);
    const waitingFor = id === 0 ? `an entry id: ${this.#name} full, bpf-policy-map-max allows ${this.ids.max - 1} entries for this endpoint` : undefined;
    for (const [key, value] of rows) {
      if (id === 0) this.#waiting.set(bpfKeyString(key), row);
      else this.#waiting.delete(bpfKeyString(key));
      this.table.set(key, value, originOf(row), waitingFor);
    }
    return rows.map(([k]) => k);
  }

  /** Gives ids freed by removals to rows that were waiting for one. */
  #retryWaiting(): void {
    for (const row of denyFirst(new Set(this.#waiting.values()))) {
      if (this.ids.tryAssign(row) === undefined) return;
      this.#set(row);
    }
  }

  /** Compares the kernel map with the desired rows; writes what is missing or wrong, deletes the rest. */
  reconcile(): DriftReport {
    const [r] = this.reconciler.refresh();
    return { repaired: r?.repaired ?? 0, pruned: r?.pruned ?? 0 };
  }

  /** Rows the kernel refused, with their messages. */
  errors(): Row<BpfKey, BpfEntry>[] {
    return this.table.errors();
  }

  /** Rows not in the kernel: those it refused, then those waiting for an entry id, each with why. */
  notWritten(): UnwrittenRow[] {
    const why = (r: Row<BpfKey, BpfEntry>) => (r.status.kind === 'error' ? r.status.message : r.status.kind === 'pending' ? `waiting for ${r.status.waitingFor}` : '');
    return [...this.table.errors(), ...this.table.held()].map((r) => ({ id: r.id, origin: r.origin, message: why(r) }));
  }

  /** The map-state row behind a kernel entry id: the rules that allowed or denied a packet. */
  explain(entryId: number): MapStateRow | undefined {
    return this.ids.row(entryId);
  }

  /** Stops writing (the endpoint is gone or the agent stops); pending retries are dropped. */
  close(): void {
    this.reconciler.disable();
  }
}
