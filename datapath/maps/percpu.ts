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

function scalarCodec<T>(size: number, write: (b: Buffer, v: T, off: number) => void, read: (b: Buffer, off: number) => T): Codec<T> {
  return {
    size,
    encode(v: T, buf = Buffer.alloc(size), off = 0): Buffer {
      write(buf, v, off);
      return buf;
    },
    decode: (buf: Buffer, off = 0): T => read(buf, off),
  };
}

/** Codec of a plain u8 (presence flags). */
export const u8Codec: Codec<number> = scalarCodec(1, (b, v, o) => b.writeUInt8(v, o), (b, o) => b.readUInt8(o));

/** Codec of a plain u16 (reverse-NAT indices). */
export const u16Codec: Codec<number> = scalarCodec(2, (b, v, o) => b.writeUInt16LE(v, o), (b, o) => b.readUInt16LE(o));

/** Codec of a plain u32 (array map keys). */
export const u32Codec: Codec<number> = scalarCodec(4, (b, v, o) => b.writeUInt32LE(v, o), (b, o) => b.readUInt32LE(o));

/** Codec of a plain u64 (counters). */
export const u64Codec: Codec<bigint> = scalarCodec(8, (b, v, o) => b.writeBigUInt64LE(v, o), (b, o) => b.readBigUInt64LE(o));
