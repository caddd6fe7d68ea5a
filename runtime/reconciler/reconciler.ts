/**
 * Drives desired tables into their targets (BPF maps), in the style of a StateDB reconciler.
 *
 * - **Incremental rounds**: every change to a bound table (once per batch) runs a round at once,
 *   on the caller's stack: the pending rows are written, upserts of every table first (in binding
 *   order, each table in its `order`), then deletes (tables in reverse, rows in reverse order). So a
 *   datapath that needs add-before-delete gets it across tables too.
 * - **Per-row status and retry**: a row whose write fails goes to error status with the message and
 *   is retried with per-row exponential backoff; it never stops the other rows of the round. A row
 *   changed meanwhile is written at once with its new value.
 * - **Refresh**: {@link TableReconciler.refresh} (periodic once started under a Manager) lists each target,
 *   rewrites done rows the target lost or holds differently, and prunes rows no table wants (unless
 *   the binding's `prune()` says not yet), counting both.
 * - **Read-your-writes**: {@link TableReconciler.waitUntilReconciled} resolves once every row changed up
 *   to a revision has been attempted, with the rows among them in error.
 *
 * Nothing touches a target before {@link TableReconciler.enable} (or {@link TableReconciler.start}).
 */
import { realClock, sleep, type Clock, type TimerHandle } from '../clock.ts';
import { nopLogger, type Logger } from '../logger.ts';
import type { Runnable } from '../manager.ts';
import { ExponentialBackoff, type RateLimiter } from '../rate-limiter.ts';
import { errorMessage, type Operations } from './operations.ts';
import type { DesiredTable, Row } from './table.ts';

/** A table and the target its rows go to. */
export interface TableBinding<K, V> {
  table: DesiredTable<K, V>;
  ops: Operations<K, V>;
  /** Upsert order within a round (deletes and prunes run in the reverse order). */
  order?: (a: K, b: K) => number;
  /** Whether a refresh may delete target rows no row wants now (default: always). */
  prune?: () => boolean;
}

/** What one refresh of one table found. */
export interface RefreshReport {
  table: string;
  /** Rows the target lacked or held differently, rewritten. */
  repaired: number;
  /** Rows the target held that no row wants, deleted. */
  pruned: number;
  /** Rewrites or prunes that failed. */
  errors: number;
}

/** Hooks for metrics; all optional. */
export interface TableReconcilerObserver {
  /** A write of a row of `table` failed. */
  failed?(table: string, row: Row<unknown, unknown>, message: string): void;
  /** A refresh finished. */
  refreshed?(reports: RefreshReport[]): void;
}

/** Options of a {@link TableReconciler}. */
export interface TableReconcilerOptions {
  name: string;
  /** The tables, in dependency order (a later table's rows may refer to an earlier one's). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tables: TableBinding<any, any>[];
  clock?: Clock;
  /** Per-row retry delays; default exponential 10 ms → 60 s. */
  retry?: RateLimiter;
  /** Period of refresh and prune under {@link start}; default 60 s, 0 = none. */
  refreshIntervalMs?: number;
  log?: Logger;
  observer?: TableReconcilerObserver;
}

interface Waiter {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  table: DesiredTable<any, any>;
  revision: number;
  resolve: (errors: Row<unknown, unknown>[]) => void;
  reject: (err: Error) => void;
}

/** Reconciles bound tables into their targets. */
export class TableReconciler implements Runnable {
  /** Runs on every replica. */
  readonly needLeaderElection = false;
  readonly name: string;
  readonly #tables: TableReconcilerOptions['tables'];
  readonly #clock: Clock;
  readonly #retry: RateLimiter;
  readonly #log: Logger;
  readonly #observer: TableReconcilerObserver;
  /** Retry deadlines by `table index \0 row id`. */
  readonly #retryAt = new Map<string, number>();
  #retryTimer: { at: number; handle: TimerHandle } | undefined;
  #waiters: Waiter[] = [];
  /** Rows that failed for the first time in the current round, by table. */
  readonly #newFailures = new Map<string, { rows: number; origin: string; err: string }>();
  #enabled = false;
  /** Disabled after having been enabled: waiters for unwritten rows are refused. */
  #stopped = false;
  #running = false;
  #again = false;

  constructor(readonly opts: TableReconcilerOptions) {
    this.name = opts.name;
    this.#tables = opts.tables;
    this.#clock = opts.clock ?? realClock;
    this.#retry = opts.retry ?? new ExponentialBackoff({ baseMs: 10, maxMs: 60_000 });
    this.#log = opts.log ?? nopLogger;
    this.#observer = opts.observer ?? {};
    for (const b of this.#tables) b.table.onChange(() => this.trigger());
  }

  /** From now on rows are written (a round runs now for what accumulated). Idempotent. */
  enable(): void {
    if (this.#enabled) return;
    this.#enabled = true;
    this.#stopped = false;
    this.trigger();
  }

  /**
   * Stops writing; later changes stay pending. Pending retries are dropped until enabled again, and
   * callers waiting in {@link waitUntilReconciled} are refused (their rows will not be written).
   */
  disable(): void {
    this.#stopped ||= this.#enabled;
    this.#enabled = false;
    this.#releaseWaiters();
    if (this.#retryTimer) this.#clock.clearTimeout(this.#retryTimer.handle);
    this.#retryTimer = undefined;
  }

  /** Enables the reconciler and refreshes every `refreshIntervalMs` until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    this.enable();
    const every = this.opts.refreshIntervalMs ?? 60_000;
    while (every > 0 && (await sleep(this.#clock, every, signal))) this.refresh();
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.disable();
  }

  /** Runs an incremental round now (tables call this on change). */
  trigger(): void {
    if (!this.#enabled) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        this.#round();
      } while (this.#again);
    } finally {
      this.#running = false;
    }
    this.#logFailures();
    this.#armRetry();
    this.#releaseWaiters();
  }

  /**
   * Resolves once every row of `table` changed at or before `revision` (default: its current
   * revision) has been attempted, with those of them in error. Before the first {@link enable} it
   * waits; once the reconciler is disabled after running, it rejects while such rows are unwritten.
   */
  waitUntilReconciled<K, V>(table: DesiredTable<K, V>, revision = table.revision): Promise<Row<K, V>[]> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ table, revision, resolve: resolve as Waiter['resolve'], reject });
      this.#releaseWaiters();
    });
  }

  /** Compares every target with its table: rewrites lost or changed rows, prunes unwanted ones. */
  refresh(): RefreshReport[] {
    if (!this.#enabled) return [];
    const reports = this.#tables.map((b) => ({ table: b.table.name, repaired: 0, pruned: 0, errors: 0 }));
    const listed = this.#tables.map((b, i) => {
      try {
        return new Map([...b.ops.list()].map((kv) => [b.table.idOf(kv[0]), kv] as const));
      } catch (err) {
        this.#log.warn('cannot list a reconciled target', { reconciler: this.name, table: b.table.name, err: errorMessage(err) });
        reports[i]!.errors++;
        return undefined;
      }
    });
    this.#tables.forEach((b, i) => {
      const have = listed[i];
      if (!have) return;
      const rows = [...b.table.rows()].filter((r) => r.status.kind === 'done');
      if (b.order) rows.sort((x, y) => b.order!(x.key, y.key));
      for (const row of rows) {
        const cur = have.get(row.id);
        if (cur && b.table.equal(cur[1], row.value)) continue;
        if (this.#attempt(i, row, () => b.ops.update(row.key, row.value))) reports[i]!.repaired++;
        else reports[i]!.errors++;
      }
    });
    for (let i = this.#tables.length - 1; i >= 0; i--) {
      const b = this.#tables[i]!;
      const have = listed[i];
      if (!have || !(b.prune?.() ?? true)) continue;
      const extra = [...have.values()].filter(([k]) => !b.table.row(b.table.idOf(k)));
      if (b.order) extra.sort((x, y) => b.order!(y[0], x[0]));
      for (const [k] of extra) {
        try {
          b.ops.delete(k);
          reports[i]!.pruned++;
        } catch (err) {
          reports[i]!.errors++;
          this.#log.warn('cannot prune a target row', { reconciler: this.name, table: b.table.name, err: errorMessage(err) });
        }
      }
    }
    this.#observer.refreshed?.(reports);
    this.#logFailures();
    this.#armRetry();
    return reports;
  }

  /** Rows of every table due now: pending ones, and failed ones whose backoff is over. */
  #due(i: number): Row<unknown, unknown>[] {
    const { table } = this.#tables[i]!;
    const now = this.#clock.now();
    // The retry timer is armed for the earliest deadline: before it, no failed row is due.
    if (this.#retryTimer && this.#retryTimer.at > now) return [...table.pending()];
    const failed = table.errors().filter((r) => (this.#retryAt.get(`${i}\0${r.id}`) ?? 0) <= now);
    return [...table.pending(), ...failed];
  }

  #round(): void {
    const due = this.#tables.map((_b, i) => this.#due(i));
    this.#tables.forEach((b, i) => {
      const ups = due[i]!.filter((r) => r.value !== undefined);
      if (b.order) ups.sort((x, y) => b.order!(x.key, y.key));
      this.#write(i, ups, b.ops.updateBatch && ((rows) => b.ops.updateBatch!(rows.map((r) => [r.key, r.value] as const))),
        (r) => b.ops.update(r.key, r.value));
    });
    for (let i = this.#tables.length - 1; i >= 0; i--) {
      const b = this.#tables[i]!;
      const dels = due[i]!.filter((r) => r.value === undefined);
      if (b.order) dels.sort((x, y) => b.order!(y.key, x.key));
      this.#write(i, dels, b.ops.deleteBatch && ((rows) => b.ops.deleteBatch!(rows.map((r) => r.key))), (r) => b.ops.delete(r.key));
    }
  }

  /** Writes rows as one batch when possible; on failure (or without batch) one by one. */
  #write(i: number, rows: Row<unknown, unknown>[], batch: ((rows: Row<unknown, unknown>[]) => void) | undefined, one: (row: Row<unknown, unknown>) => void): void {
    if (rows.length === 0) return;
    const { table } = this.#tables[i]!;
    if (batch && rows.length > 1) {
      try {
        batch(rows);
        for (const r of rows) this.#succeeded(i, r);
        return;
      } catch {
        // Some row failed: find which, one by one.
      }
    }
    for (const r of rows) {
      if (table.row(r.id) !== r) continue;
      this.#attempt(i, r, () => one(r));
    }
  }

  /** Runs one write of `row`, recording its outcome; true on success. */
  #attempt(i: number, row: Row<unknown, unknown>, fn: () => void): boolean {
    try {
      fn();
      this.#succeeded(i, row);
      return true;
    } catch (err) {
      this.#failed(i, row, errorMessage(err));
      return false;
    }
  }

  #succeeded(i: number, row: Row<unknown, unknown>): void {
    this.#tables[i]!.table.markDone(row.id, row.revision);
    const rk = `${i}\0${row.id}`;
    if (this.#retryAt.delete(rk)) this.#retry.forget(rk);
  }

  #failed(i: number, row: Row<unknown, unknown>, message: string): void {
    const { table } = this.#tables[i]!;
    table.markError(row.id, row.revision, message);
    const rk = `${i}\0${row.id}`;
    this.#retryAt.set(rk, this.#clock.now() + this.#retry.when(rk));
    const status = table.row(row.id)?.status;
    // The first failure of a row is worth counting in the round's one line per table; its retries are not.
    if (status?.kind === 'error' && status.attempts === 1) {
      const f = this.#newFailures.get(table.name);
      if (f) f.rows++;
      else this.#newFailures.set(table.name, { rows: 1, origin: row.origin, err: message });
    }
    this.#observer.failed?.(table.name, row, message);
  }

  /** One line per table whose rows failed for the first time in this round or refresh. */
  #logFailures(): void {
    for (const [table, f] of this.#newFailures) {
      this.#log.warn('rows not written; retrying with backoff', { reconciler: this.name, table, rows: f.rows, firstOrigin: f.origin, err: f.err });
    }
    this.#newFailures.clear();
  }

  /** Arms one timer for the earliest retry; forgets deadlines of rows no longer in error. */
  #armRetry(): void {
    if (!this.#enabled) return;
    let next = Infinity;
    for (const [rk, at] of this.#retryAt) {
      const [i, id] = [Number(rk.slice(0, rk.indexOf('\0'))), rk.slice(rk.indexOf('\0') + 1)];
      if (this.#tables[i]!.table.row(id)?.status.kind !== 'error') {
        this.#retryAt.delete(rk);
        this.#retry.forget(rk);
        continue;
      }
      next = Math.min(next, at);
    }
    if (this.#retryTimer && this.#retryTimer.at <= next) return;
    if (this.#retryTimer) this.#clock.clearTimeout(this.#retryTimer.handle);
    this.#retryTimer = undefined;
    if (next === Infinity) return;
    const handle = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.trigger();
    }, Math.max(0, next - this.#clock.now()));
    (handle as { unref?: () => void }).unref?.();
    this.#retryTimer = { at: next, handle };
  }

  #releaseWaiters(): void {
    if (this.#running) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (!w.table.pendingUpTo(w.revision)) w.resolve(w.table.errors().filter((r) => r.revision <= w.revision));
      else if (this.#stopped) w.reject(new Error(`reconciler ${this.name} stopped before ${w.table.name} reached revision ${w.revision}`));
      else still.push(w);
    }
    this.#waiters = still;
  }
}
