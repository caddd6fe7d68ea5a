// A typed BPF map: codecs on both sides of the native fd calls. Idempotent operations for reconcilers:
// update (upsert), delete (missing = success), entries, and their batched forms.
import { native } from '../native.ts';
import type { Codec } from '../codecs/codec.ts';
import { isErrno, withContext } from '../errors.ts';

/** Kernel map type numbers used by the datapath. */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LPM_TRIE: 11,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  RINGBUF: 27,
} as const;

/** BPF_MAP_UPDATE flags. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

const NO_BATCH = new Set<number>([MapType.LPM_TRIE]);
/** Map types whose values the kernel exchanges per possible CPU. */
const PER_CPU = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

function run<T>(name: string, op: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof Error ? withContext(err, `map ${name}: ${op}`) : err;
  }
}

/** A live map. Owns its fd (a dup), closed by close() / Symbol.dispose. */
export class BpfMap<K, V> implements Disposable {
  private closed = false;

  /**
   * @param fd owned fd (closed with this object)
   * @param type kernel map type
   * @param name for error messages
   * @param keyCodec, valueCodec encode/decode keys and values
   */
  constructor(
    readonly fd: number,
    readonly type: number,
    readonly name: string,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {}

  /**
   * Opens a map pinned at path, checking that its key and value sizes match the codecs (for a
   * per-CPU map, the value codec spans every possible CPU: round_up(value size, 8) each).
   */
  static openPinned<K, V>(path: string, keyCodec: Codec<K>, valueCodec: Codec<V>): BpfMap<K, V> {
    const fd = native().objGet(path);
    const info = native().mapInfo(fd);
    const valueSize = PER_CPU.has(info.type) ? Math.ceil(info.valueSize / 8) * 8 * native().possibleCpus() : info.valueSize;
    if (info.keySize !== keyCodec.size || valueSize !== valueCodec.size) {
      native().fdClose(fd);
      throw new Error(`map ${path}: key/value sizes ${info.keySize}/${info.valueSize} do not match codecs`);
    }
    return new BpfMap(fd, info.type, info.name, keyCodec, valueCodec);
  }

  /** Wraps a dup of fd (the caller keeps its own fd). */
  static fromFd<K, V>(fd: number, keyCodec: Codec<K>, valueCodec: Codec<V>): BpfMap<K, V> {
    const own = native().fdDup(fd);
    const info = native().mapInfo(own);
    return new BpfMap(own, info.type, info.name, keyCodec, valueCodec);
  }

  /** The value for key, or undefined. */
  lookup(key: K): V | undefined {
    const buf = run(this.name, 'lookup', () => native().mapLookup(this.fd, this.keyCodec.encode(key), this.valueCodec.size));
    return buf ? this.valueCodec.decode(buf) : undefined;
  }

  /** Inserts or replaces (flags: UpdateFlags). */
  update(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    run(this.name, 'update', () => native().mapUpdate(this.fd, this.keyCodec.encode(key), this.valueCodec.encode(value), flags));
  }

  /** Deletes key; a missing key is success. Returns whether something was deleted. */
  delete(key: K): boolean {
    return run(this.name, 'delete', () => native().mapDelete(this.fd, this.keyCodec.encode(key)));
  }

  /** All entries (a snapshot walk; concurrent datapath changes may or may not be seen). */
  entries(max = 1 << 24): Array<[K, V]> {
    const ks = this.keyCodec.size, vs = this.valueCodec.size;
    const d = run(this.name, 'dump', () => native().mapDump(this.fd, ks, vs, max));
    const out: Array<[K, V]> = [];
    for (let i = 0; i < d.count; i++) out.push([this.keyCodec.decode(d.keys, i * ks), this.valueCodec.decode(d.values, i * vs)]);
    return out;
  }

  /**
   * How many entries the map holds, at most `max` (keys walked on a worker thread, values not read;
   * a walk racing with the datapath may count one entry twice or miss one).
   */
  async count(max = 1 << 24): Promise<number> {
    try {
      return await native().mapCountAsync(this.fd, this.keyCodec.size, max);
    } catch (err) {
      throw err instanceof Error ? withContext(err, `map ${this.name}: count`) : err;
    }
  }

  /** Upserts many entries with one kernel batch call where the map type supports it. */
  updateBatch(entries: ReadonlyArray<readonly [K, V]>, flags: number = UpdateFlags.ANY): void {
    if (entries.length === 0) return;
    const ks = this.keyCodec.size, vs = this.valueCodec.size;
    const keys = Buffer.alloc(ks * entries.length), values = Buffer.alloc(vs * entries.length);
    entries.forEach(([k, v], i) => {
      this.keyCodec.encode(k, keys, i * ks);
      this.valueCodec.encode(v, values, i * vs);
    });
    run(this.name, 'updateBatch', () => {
      if (NO_BATCH.has(this.type)) return native().mapUpdateEach(this.fd, keys, values, entries.length, flags);
      return native().mapUpdateBatch(this.fd, keys, values, entries.length, flags);
    });
  }

  /** Deletes many keys; missing keys are success. Returns how many existed. */
  deleteBatch(keys: readonly K[]): number {
    if (keys.length === 0) return 0;
    const ks = this.keyCodec.size;
    const buf = Buffer.alloc(ks * keys.length);
    keys.forEach((k, i) => this.keyCodec.encode(k, buf, i * ks));
    return run(this.name, 'deleteBatch', () => {
      if (NO_BATCH.has(this.type)) return native().mapDeleteEach(this.fd, buf, keys.length);
      try {
        return native().mapDeleteBatch(this.fd, buf, keys.length);
      } catch (err) {
        // The kernel stops at the first missing key after deleting `processed` keys; skip the
        // missing one and finish element-wise, which tolerates further misses.
        if (!isErrno(err, 'ENOENT')) throw err;
        const done = Number((err as { processed?: number }).processed ?? 0);
        const rest = keys.length - done - 1;
        return done + (rest > 0 ? native().mapDeleteEach(this.fd, buf.subarray((done + 1) * ks), rest) : 0);
      }
    });
  }

  /** Deletes every entry whose key is not in keep (by encoded bytes). Returns how many were removed. */
  prune(keep: Iterable<K>): number {
    const wanted = new Set<string>();
    for (const k of keep) wanted.add(this.keyCodec.encode(k).toString('hex'));
    const stale = this.entries().map(([k]) => k).filter((k) => !wanted.has(this.keyCodec.encode(k).toString('hex')));
    return this.deleteBatch(stale);
  }

  /** Pins the map at path (bpffs). */
  pin(path: string): void {
    run(this.name, 'pin', () => native().objPin(this.fd, path));
  }

  /** Closes the fd; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().fdClose(this.fd);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}
