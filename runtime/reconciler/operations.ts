/**
 * The target side of a reconciler: how rows reach a BPF map (or anything else that holds rows).
 * Every operation is idempotent: an update upserts, a delete of a missing key succeeds.
 */

/** Writes, removes and lists the rows of one target. */
export interface Operations<K, V> {
  /** Upserts one row; throws when the target refuses it. */
  update(key: K, value: V): void;
  /** Removes one row; a missing row is success. */
  delete(key: K): void;
  /** The rows the target holds now (refresh compares them with the table and prunes the rest). */
  list(): Iterable<readonly [K, V]>;
  /**
   * Upserts many rows at once; throws when any fails, after which the reconciler writes them one by
   * one to find which (so a batch may be partly written when it throws).
   */
  updateBatch?(rows: ReadonlyArray<readonly [K, V]>): void;
  /** Removes many rows at once; same failure contract as `updateBatch`. */
  deleteBatch?(keys: readonly K[]): void;
}

/** The message of a failure, for a row's error status. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
