// Codecs for per-CPU map values: the kernel exchanges round_up(size, 8) bytes per possible CPU.
import type { Codec } from '../codecs/codec.ts';
import { native } from '../native.ts';

/** Wraps a value codec so a lookup yields one value per possible CPU. */
export function perCpuCodec<V>(inner: Codec<V>, cpus = native().possibleCpus()): Codec<V[]> {
  const stride = Math.ceil(inner.size / 8) * 8;
  return {
    size: stride * cpus,
    encode(v: V[], buf = Buffer.alloc(stride * cpus), off = 0): Buffer {
      buf.fill(0, off, off + stride * cpus);
      v.slice(0, cpus).forEach((x, i) => inner.encode(x, buf, off + i * stride));
      return buf;
    },
    decode(buf: Buffer, off = 0): V[] {
      return Array.from({ length: cpus }, (_x, i) => inner.decode(buf, off + i * stride));
    },
  };
}

/** Codec of a plain u32 (array map keys). */
export const u32Codec: Codec<number> = {
  size: 4,
  encode(v: number, buf = Buffer.alloc(4), off = 0): Buffer {
    buf.writeUInt32LE(v, off);
    return buf;
  },
  decode(buf: Buffer, off = 0): number {
    return buf.readUInt32LE(off);
  },
};

/** Codec of a plain u64 (counters). */
export const u64Codec: Codec<bigint> = {
  size: 8,
  encode(v: bigint, buf = Buffer.alloc(8), off = 0): Buffer {
    buf.writeBigUInt64LE(v, off);
    return buf;
  },
  decode(buf: Buffer, off = 0): bigint {
    return buf.readBigUInt64LE(off);
  },
};
