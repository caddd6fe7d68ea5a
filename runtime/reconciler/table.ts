/**
 * A desired-state table: the rows some part of the agent wants in a target (a BPF map), each with
 * the revision that last changed it, the origin that produced it, and its reconciliation status.
 *
 * Rows are keyed by an encoded key (`idOf`). Setting a row to an equal value is a no-op, so callers
 * may re-assert their state freely. Deleting a row leaves a tombstone (a row without a value,
 * pending) until the reconciler has removed it from the target. Writers group changes with
 * {@link DesiredTable.batch}; the table tells its listeners once per batch.
 */

/**
 * Where a row stands: not yet written, in the target, or failed (retried with backoff). A pending
 * row `waitingFor` something (room in its map) is held: not written, not waited for by
 * `waitUntilReconciled`, and not an error; the target keeps what it holds at its key meanwhile.
 */
export type RowStatus =
  | { readonly kind: 'pending'; readonly waitingFor?: string }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly message: string; readonly attempts: number };

/** One desired row. `value` undefined: the row is to be deleted from the target. */
export interface Row<K, V> {
  /** The encoded key. */
  readonly id: string;
  readonly key: K;
  readonly value: V | undefined;
  /** The table revision of the row's last change. */
  readonly revision: number;
  /** What produced the row (an endpoint, a service, a source of ipcache claims, ...). */
  readonly origin: string;
  readonly status: RowStatus;
}

/** Row counts by status. */
export interface TableCounts {
  /** Live rows (tombstones excluded). */
  rows: number;
  pending: number;
  error: number;
}

const PENDING: RowStatus = { kind: 'pending' };
const DONE: RowStatus = { kind: 'done' };

/** Rows wanted in one target. */
export class DesiredTable<K, V> {
  readonly #rows = new Map<string, Row<K, V>>();
  /** Ids of rows that are pending and ready to be written. */
  readonly #pending = new Set<string>();
  /** Ids of pending rows held until something they wait for (room) is there. */
  readonly #held = new Set<string>();
  readonly #errors = new Set<string>();
  readonly #listeners: Array<() => void> = [];
  readonly #errorListeners: Array<(inError: boolean) => void> = [];
  #revision = 0;
  #live = 0;
  #batchDepth = 0;
  #changedInBatch = false;

  /**
   * @param name the table's name (metrics, health, logs)
   * @param idOf encodes a key; equal keys must give equal ids
   * @param equal whether two values are the same (a set to an equal value changes nothing)
   */
  constructor(
    readonly name: string,
    readonly idOf: (key: K) => string,
    readonly equal: (a: V, b: V) => boolean,
  ) {}

  /** The revision of the last change. */
  get revision(): number {
    return this.#revision;
  }

  /** Calls `fn` after every change (once per batch). */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** Calls `fn` whenever the table goes from no row in error to some, or back. */
  onErrorsChanged(fn: (inError: boolean) => void): void {
    this.#errorListeners.push(fn);
  }

  /** Runs `fn`, telling listeners once at the end about the changes it made. */
  batch<T>(fn: () => T): T {
    this.#batchDepth++;
    try {
      return fn();
    } finally {
      if (--this.#batchDepth === 0 && this.#changedInBatch) {
        this.#changedInBatch = false;
        this.#notify();
      }
    }
  }

  /**
   * Wants `value` at `key`; returns the row's revision (unchanged when the value is equal). With
   * `waitingFor` (what the row lacks, e.g. room in its map) the row is held pending, unwritten, until
   * set again without it.
   */
  set(key: K, value: V, origin: string, waitingFor?: string): number {
    const id = this.idOf(key);
    const cur = this.#rows.get(id);
    if (cur?.value !== undefined && this.equal(cur.value, value) && this.#held.has(id) === (waitingFor !== undefined)) {
      if (cur.origin !== origin) this.#rows.set(id, { ...cur, origin });
      return cur.revision;
    }
    if (cur?.value === undefined) this.#live++;
    return this.#put({ id, key, value, revision: ++this.#revision, origin, status: waitingFor === undefined ? PENDING : { kind: 'pending', waitingFor } });
  }

  /** No longer wants `key`: the row stays as a pending tombstone until the target lost it. */
  delete(key: K, origin?: string): number {
    const id = this.idOf(key);
    const cur = this.#rows.get(id);
    if (!cur || cur.value === undefined) return cur?.revision ?? this.#revision;
    this.#live--;
    return this.#put({ id, key, value: undefined, revision: ++this.#revision, origin: origin ?? cur.origin, status: PENDING });
  }

  /**
   * Drops `key` from the table without asking for its removal from the target: the target keeps
   * the row until a refresh prunes it (used while the target may hold rows another run wrote).
   */
  forget(key: K): void {
    const id = this.idOf(key);
    const cur = this.#rows.get(id);
    if (!cur) return;
    if (cur.value !== undefined) this.#live--;
    this.#rows.delete(id);
    this.#pending.delete(id);
    this.#held.delete(id);
    this.#unerror(id);
  }

  /** The wanted value at `key`. */
  get(key: K): V | undefined {
    return this.#rows.get(this.idOf(key))?.value;
  }

  /** The row (live or tombstone) with encoded key `id`. */
  row(id: string): Row<K, V> | undefined {
    return this.#rows.get(id);
  }

  /** Every live row. */
  *rows(): IterableIterator<Row<K, V>> {
    for (const r of this.#rows.values()) if (r.value !== undefined) yield r;
  }

  /** Rows waiting for their first attempt (live rows and tombstones), held rows excluded. */
  pending(): Row<K, V>[] {
    return [...this.#pending].map((id) => this.#rows.get(id)!);
  }

  /** Pending rows held until what they wait for is there (never written meanwhile). */
  held(): Row<K, V>[] {
    return [...this.#held].map((id) => this.#rows.get(id)!);
  }

  /** Rows whose last attempt failed (live rows and tombstones). */
  errors(): Row<K, V>[] {
    return [...this.#errors].map((id) => this.#rows.get(id)!);
  }

  /** Whether any row changed at or before `revision` is still pending. */
  pendingUpTo(revision: number): boolean {
    for (const id of this.#pending) if (this.#rows.get(id)!.revision <= revision) return true;
    return false;
  }

  /** Counts by status (held rows are pending). */
  counts(): TableCounts {
    return { rows: this.#live, pending: this.#pending.size + this.#held.size, error: this.#errors.size };
  }

  /** Records that `revision` of row `id` is in the target; a done tombstone leaves the table. */
  markDone(id: string, revision: number): void {
    const cur = this.#rows.get(id);
    if (!cur || cur.revision !== revision) return;
    this.#pending.delete(id);
    this.#unerror(id);
    if (cur.value === undefined) this.#rows.delete(id);
    else if (cur.status.kind !== 'done') this.#rows.set(id, { ...cur, status: DONE });
  }

  /** Records that writing `revision` of row `id` failed. */
  markError(id: string, revision: number, message: string): void {
    const cur = this.#rows.get(id);
    if (!cur || cur.revision !== revision) return;
    const attempts = cur.status.kind === 'error' ? cur.status.attempts + 1 : 1;
    this.#pending.delete(id);
    this.#rows.set(id, { ...cur, status: { kind: 'error', message, attempts } });
    if (this.#errors.has(id)) return;
    this.#errors.add(id);
    if (this.#errors.size === 1) for (const fn of this.#errorListeners) fn(true);
  }

  #unerror(id: string): void {
    if (this.#errors.delete(id) && this.#errors.size === 0) for (const fn of this.#errorListeners) fn(false);
  }

  #put(row: Row<K, V>): number {
    this.#rows.set(row.id, row);
    this.#unerror(row.id);
    const held = row.status.kind === 'pending' && row.status.waitingFor !== undefined;
    (held ? this.#held : this.#pending).add(row.id);
    (held ? this.#pending : this.#held).delete(row.id);
    if (this.#batchDepth > 0) this.#changedInBatch = true;
    else this.#notify();
    return row.revision;
  }

  #notify(): void {
    for (const fn of this.#listeners) fn();
  }
}

/** Runs `fn` as one batch of every table (their reconciler then runs one round for all of it). */
export function batchAll<T>(tables: ReadonlyArray<{ batch<R>(fn: () => R): R }>, fn: () => T): T {
  return tables.reduce<() => T>((inner, t) => () => t.batch(inner), fn)();
}
