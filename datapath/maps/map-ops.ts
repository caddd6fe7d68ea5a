/**
 * A BPF map as a reconciler target: its typed operations behind the generic `Operations` interface,
 * and a desired table keyed and compared by the map's own codecs (so a row equals the kernel's
 * exactly when their bytes do).
 */
import type { Operations } from '../../runtime/reconciler/operations.ts';
import { DesiredTable } from '../../runtime/reconciler/table.ts';
import type { Codec } from '../codecs/codec.ts';
import { native } from '../native.ts';
import type { BpfMap } from './bpf-map.ts';

/**
 * The map's operations: upsert, delete (missing = success), dump, and their batched forms. `map` may
 * be a function giving the map when the operations run (a map opened only when its owner starts).
 */
export function bpfMapOps<K, V>(map: BpfMap<K, V> | (() => BpfMap<K, V>)): Operations<K, V> {
  const m = typeof map === 'function' ? map : () => map;
  return {
    update: (k, v) => m().update(k, v),
    delete: (k) => void m().delete(k),
    list: () => m().entries(),
    updateBatch: (rows) => m().updateBatch(rows),
    deleteBatch: (keys) => void m().deleteBatch(keys),
  };
}

/** How many entries the map can hold (its max_entries). */
export function mapCapacity(map: Pick<BpfMap<unknown, unknown>, 'fd'>): number {
  return native().mapInfo(map.fd).maxEntries;
}

/** The encoded bytes of a value, as hex (a table's row id for a key). */
export function codecHex<T>(codec: Codec<T>, value: T): string {
  return codec.encode(value).toString('hex');
}

/** Whether two values encode to the same bytes. */
export function sameEncoding<T>(codec: Codec<T>, a: T, b: T): boolean {
  return codec.encode(a).equals(codec.encode(b));
}

/** A desired table for the rows of a map with these codecs. */
export function mapTable<K, V>(name: string, keyCodec: Codec<K>, valueCodec: Codec<V>): DesiredTable<K, V> {
  return new DesiredTable<K, V>(name, (k) => codecHex(keyCodec, k), (a, b) => sameEncoding(valueCodec, a, b));
}
