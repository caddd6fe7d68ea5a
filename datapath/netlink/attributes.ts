// Route netlink attributes (struct rtattr): a 4-byte header {u16 length, u16 type} before the value,
// the length counting header and value but not the padding to the next 4-byte boundary. A nested
// attribute's value is more attributes. Numbers are in host order (see message.ts).
import { SIZE } from './constants.ts';

/** An attribute to encode: its type and its value, raw bytes or nested attributes. */
export type Attribute = readonly [type: number, value: Buffer | readonly Attribute[]];

/** Bits of rtattr type that are flags, not part of the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER). */
const TYPE_FLAGS = 0xc000;

/** Rounds n up to netlink's 4-byte alignment (NLMSG_ALIGN, RTA_ALIGN). */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Encodes attributes back to back, each padded to 4 bytes. */
export function encodeAttributes(attrs: readonly Attribute[]): Buffer {
  return Buffer.concat(attrs.map(([type, value]) => {
    const payload = Buffer.isBuffer(value) ? value : encodeAttributes(value);
    const out = Buffer.alloc(align4(SIZE.RTATTR + payload.length));
    out.writeUInt16LE(SIZE.RTATTR + payload.length, 0);
    out.writeUInt16LE(type, 2);
    payload.copy(out, SIZE.RTATTR);
    return out;
  }));
}

/** The attributes in bytes by type, flag bits removed; a repeated type keeps its last value. Throws on a bad length. */
export function decodeAttributes(bytes: Buffer): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let off = 0;
  while (off + SIZE.RTATTR <= bytes.length) {
    const len = bytes.readUInt16LE(off);
    if (len < SIZE.RTATTR || off + len > bytes.length) throw new Error(`malformed netlink attribute at byte ${off}: length ${len}`);
    attrs.set(bytes.readUInt16LE(off + 2) & ~TYPE_FLAGS, bytes.subarray(off + SIZE.RTATTR, off + len));
    off += align4(len);
  }
  return attrs;
}
