/**
 * The agent's reconciled kernel tables in one view: per table counts of rows (pending, in error) for
 * `/healthz` and metrics; upstream's `cilium_bpf_map_pressure{map_name}` gauge for every reconciled
 * map and every map the datapath fills itself (conntrack, NAT: their entries counted by sampling);
 * Warnings (a log line and an Event naming the map and its owner) when a map reaches 90% of its
 * capacity, when a table's rows start waiting for room in its full map, and when its rows start
 * failing (the kernel refuses them). Refreshes of every reconciler are counted as drift repairs.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { renameSync, writeFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';
import { counter } from '../runtime/metrics.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RefreshReport, TableReconcilerObserver } from '../runtime/reconciler/reconciler.ts';
import type { Row, TableCounts } from '../runtime/reconciler/table.ts';

/** The file in the agent's state folder where the kernel tables' health is published. */
export const KERNEL_HEALTH_FILE = 'kernel-health.json';

/** A map pressure at or above this is warned about. */
export const PRESSURE_WARNING = 0.9;
/** Below this again, the warning is re-armed. */
const PRESSURE_REARM = 0.8;

/** The table side the view reads. */
export interface WatchedTable {
  readonly name: string;
  counts(): TableCounts;
  errors(): Row<unknown, unknown>[];
  /** Pending rows held until there is room for them. */
  held(): Row<unknown, unknown>[];
  onChange(fn: () => void): void;
  onErrorsChanged(fn: (inError: boolean) => void): void;
}

/** One reconciled map. */
export interface KernelTable {
  /** The map's name (the `map_name` label), e.g. `cilium_ipcache` or `cilium_policy_v2_00042`. */
  mapName: string;
  /** Tables of one kind share a group in health and counts (e.g. every endpoint's policy map). */
  group: string;
  table: WatchedTable;
  /** Entries the map can hold. */
  capacity: number;
  /** Whose map it is: the object Events are about. */
  owner: KubernetesObject;
  /** Called when the table's rows start or stop failing (e.g. to refresh the endpoint's status). */
  onErrorsChanged?: (inError: boolean) => void;
}

/** A map the datapath fills itself (conntrack, NAT, ...): its pressure comes from sampled entry counts. */
export interface SampledMap {
  /** The map's name (the `map_name` label), e.g. `cilium_ct4_global`. */
  mapName: string;
  /** Entries the map can hold. */
  capacity: number;
  /** Whose map it is: the object Events are about. */
  owner: KubernetesObject;
}

/** What a pressure check needs of a map. */
interface PressureState {
  mapName: string;
  capacity: number;
  owner: KubernetesObject;
  warned: boolean;
}

/** Warnings go here (an EventRecorder fits). */
export interface WarningSink {
  event(regarding: KubernetesObject, type: 'Warning', reason: string, action: string, note: string): void;
}

/** Rows of one group by status. */
export interface TableHealth {
  rows: number;
  pending: number;
  error: number;
}

/** What `/healthz` tells about the kernel tables. */
export interface KernelHealth {
  status: 'ok' | 'degraded';
  tables: Record<string, TableHealth>;
  /** Up to 20 rows in error. */
  errors: Array<{ map: string; origin: string; message: string }>;
  /** Up to 20 pending rows held until there is room for them (not errors: nothing refused them). */
  waiting: Array<{ map: string; origin: string; message: string }>;
}

function ownerText(o: KubernetesObject): string {
  return `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;
}

/** The agent's kernel tables, registered as they come and go. */
export class KernelTables {
  readonly #tables = new Map<string, KernelTable & { warned: boolean }>();
  /** Sampled maps with their last entry count. */
  readonly #sampled = new Map<string, SampledMap & PressureState & { entries: number }>();
  readonly #repairs: ((table: string, action: 'repaired' | 'pruned', n: number) => void)[] = [];

  #publishTimer: NodeJS.Timeout | undefined;

  /**
   * @param warnings where Warning Events go
   * @param statePath where the health is published for `ciliate bpf errors` (when rows start or
   *   stop failing, and after refreshes)
   */
  constructor(private readonly log: Logger, private readonly warnings?: WarningSink, private readonly statePath?: string) {}

  /** Counts refreshes of any reconciler (pass as its observer). */
  readonly observer: TableReconcilerObserver = {
    refreshed: (reports: RefreshReport[]) => {
      this.#publish();
      for (const r of reports) {
        if (r.repaired + r.pruned === 0) continue;
        this.log.warn('kernel state drifted from the desired state; repaired', { map: r.table, repaired: r.repaired, pruned: r.pruned });
        for (const fn of this.#repairs) {
          fn(r.table, 'repaired', r.repaired);
          fn(r.table, 'pruned', r.pruned);
        }
      }
    },
  };

  /** Watches a map; returns the function that forgets it. */
  register(t: KernelTable): () => void {
    const entry = { ...t, warned: false, full: false };
    this.#tables.set(t.mapName, entry);
    t.table.onChange(() => {
      this.#checkPressure(entry, t.table.counts().rows);
      this.#checkFull(entry);
    });
    t.table.onErrorsChanged((inError) => {
      if (this.#tables.get(t.mapName) !== entry) return;
      if (inError) {
        const first = t.table.errors()[0];
        const message = first?.status.kind === 'error' ? first.status.message : '';
        this.log.warn('kernel map rows not written', { map: t.mapName, owner: ownerText(t.owner), err: message });
        this.warnings?.event(t.owner, 'Warning', 'MapWriteFailed', 'Reconcile', `rows of BPF map ${t.mapName} not written: ${message}`.slice(0, 1000));
      }
      t.onErrorsChanged?.(inError);
      this.#publish();
    });
    this.#checkPressure(entry, t.table.counts().rows);
    this.#publish();
    return () => {
      if (this.#tables.get(t.mapName) === entry) this.#tables.delete(t.mapName);
    };
  }

  /** Writes the health file soon (at most every 100 ms). */
  #publish(): void {
    if (!this.statePath || this.#publishTimer) return;
    this.#publishTimer = setTimeout(() => {
      this.#publishTimer = undefined;
      try {
        writeFileSync(`${this.statePath}.tmp`, JSON.stringify(this.health(), null, 1) + '\n');
        renameSync(`${this.statePath}.tmp`, this.statePath!);
      } catch (err) {
        this.log.warn('could not publish the kernel tables\' health', { err: (err as Error).message });
      }
    }, 100);
    this.#publishTimer.unref();
  }

  /**
   * Watches a map the datapath fills; returns the function that records a sample of how many entries
   * it holds (its pressure until the next sample).
   */
  registerSampled(m: SampledMap): (entries: number) => void {
    const entry = { ...m, warned: false, entries: 0 };
    this.#sampled.set(m.mapName, entry);
    return (entries) => {
      entry.entries = entries;
      this.#checkPressure(entry, entries);
    };
  }

  /** Rows wanted (or, for a sampled map, entries held) over capacity (above 1: some do not fit). */
  pressure(mapName: string): number | undefined {
    const t = this.#tables.get(mapName);
    if (t) return t.table.counts().rows / Math.max(1, t.capacity);
    const s = this.#sampled.get(mapName);
    return s && s.entries / Math.max(1, s.capacity);
  }

  /** Warns once when rows of a table start waiting for room in its map (re-armed once none wait). */
  #checkFull(t: KernelTable & { full: boolean }): void {
    const held = t.table.held();
    if (t.full === held.length > 0) return;
    t.full = held.length > 0;
    this.#publish();
    if (!t.full) return;
    const first = held[0]!.status;
    const why = first.kind === 'pending' ? first.waitingFor ?? 'room' : 'room';
    this.log.warn('BPF map full; rows wait for room', { map: t.mapName, owner: ownerText(t.owner), rows: held.length, waitingFor: why });
    this.warnings?.event(t.owner, 'Warning', 'MapFull', 'Reconcile', `BPF map ${t.mapName} is full: ${held.length} rows wait for ${why}`.slice(0, 1000));
  }

  #checkPressure(t: PressureState, rows: number): void {
    const p = rows / Math.max(1, t.capacity);
    if (t.warned && p < PRESSURE_REARM) t.warned = false;
    if (t.warned || p < PRESSURE_WARNING) return;
    t.warned = true;
    const percent = Math.round(p * 100);
    this.log.warn('BPF map nearly full', { map: t.mapName, owner: ownerText(t.owner), percent, capacity: t.capacity });
    this.warnings?.event(t.owner, 'Warning', 'MapPressure', 'Reconcile', `BPF map ${t.mapName} is ${percent}% full (${rows} of ${t.capacity} entries)`);
  }

  /** Counts per group, and the first rows in error. */
  health(): KernelHealth {
    const tables: Record<string, TableHealth> = {};
    const errors: KernelHealth['errors'] = [];
    const waiting: KernelHealth['waiting'] = [];
    for (const t of this.#tables.values()) {
      const c = t.table.counts();
      const h = (tables[t.group] ??= { rows: 0, pending: 0, error: 0 });
      h.rows += c.rows;
      h.pending += c.pending;
      h.error += c.error;
      for (const r of c.error ? t.table.errors() : []) {
        if (errors.length >= 20) break;
        errors.push({ map: t.mapName, origin: r.origin, message: r.status.kind === 'error' ? r.status.message : '' });
      }
      for (const r of c.pending ? t.table.held() : []) {
        if (waiting.length >= 20) break;
        waiting.push({ map: t.mapName, origin: r.origin, message: r.status.kind === 'pending' ? `waiting for ${r.status.waitingFor ?? 'a write'}` : '' });
      }
    }
    return { status: Object.values(tables).some((h) => h.error > 0) ? 'degraded' : 'ok', tables, errors, waiting };
  }

  /** Registers the pressure gauge, the row counts and the drift counters. */
  registerMetrics(registry: Registry): void {
    const drift = counter(registry, 'ciliate_datapath_drift_repairs_total', 'Kernel map rows found different from the desired state and repaired', []);
    const byTable = counter(registry, 'ciliate_reconciler_refresh_total', 'Rows a refresh rewrote (repaired) or deleted (pruned), by table', ['table', 'action']);
    this.#repairs.push((table, action, n) => {
      if (!n) return;
      drift.inc(n);
      byTable.inc({ table, action }, n);
    });
    const tables = this.#tables;
    const sampled = this.#sampled;
    const health = () => this.health();
    new Gauge({
      name: 'cilium_bpf_map_pressure', help: 'Fill percentage of a BPF map (rows wanted over capacity)', labelNames: ['map_name'], registers: [registry],
      collect() {
        this.reset();
        for (const t of tables.values()) this.set({ map_name: t.mapName }, t.table.counts().rows / Math.max(1, t.capacity));
        for (const s of sampled.values()) this.set({ map_name: s.mapName }, s.entries / Math.max(1, s.capacity));
      },
    });
    new Gauge({
      name: 'ciliate_reconciler_rows', help: 'Rows of the reconciled kernel tables by status (total, pending, error)', labelNames: ['table', 'status'], registers: [registry],
      collect() {
        this.reset();
        for (const [group, h] of Object.entries(health().tables)) {
          this.set({ table: group, status: 'total' }, h.rows);
          this.set({ table: group, status: 'pending' }, h.pending);
          this.set({ table: group, status: 'error' }, h.error);
        }
      },
    });
  }
}
