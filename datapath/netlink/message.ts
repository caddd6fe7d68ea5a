// Netlink messages: a 16-byte header (struct nlmsghdr: u32 length, u16 type, u16 flags, u32 sequence
// number, u32 port) before the body, each message padded to 4 bytes. Netlink numbers are in the host's
// byte order; this module writes little-endian and refuses to load elsewhere.
import { endianness } from 'node:os';
import { SIZE } from './constants.ts';
import { align4 } from './attributes.ts';

if (endianness() !== 'LE') throw new Error('datapath/netlink encodes little-endian host order; this host is big-endian');

/** A request to send: message type, flags besides REQUEST/ACK, body (family header then attributes), and what it is about. */
export interface Request {
  type: number;
  flags: number;
  body: Buffer;
  /** Names the object in errors, after the message type: "lxc1234", "10.0.0.5/32 dev eth0". */
  subject: string;
}

/** A received message. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

/** One field of a fixed C header: byte offset, width and signedness, value. */
export type HeaderField = readonly [offset: number, kind: 'u8' | 'u16' | 'u32' | 's32', value: number];

/** Encodes a fixed C header of `size` bytes (fields not given are zero), in host order. */
export function packHeader(size: number, fields: readonly HeaderField[]): Buffer {
  const b = Buffer.alloc(size);
  for (const [offset, kind, value] of fields) {
    if (kind === 'u8') b.writeUInt8(value, offset);
    else if (kind === 'u16') b.writeUInt16LE(value, offset);
    else if (kind === 'u32') b.writeUInt32LE(value >>> 0, offset);
    else b.writeInt32LE(value, offset);
  }
  return b;
}

/** Encodes one message: header (its length, type, flags, seq, port 0 = the kernel) and body. */
export function encodeMessage(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const header = packHeader(SIZE.NLMSGHDR, [[0, 'u32', SIZE.NLMSGHDR + body.length], [4, 'u16', type], [6, 'u16', flags], [8, 'u32', seq]]);
  return Buffer.concat([header, body, Buffer.alloc(align4(body.length) - body.length)]);
}

/** Splits received bytes into messages; throws on a truncated or malformed one. */
export function splitMessages(bytes: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let off = 0;
  while (off + SIZE.NLMSGHDR <= bytes.length) {
    const len = bytes.readUInt32LE(off);
    if (len < SIZE.NLMSGHDR || off + len > bytes.length) throw new Error(`malformed netlink message at byte ${off}: length ${len}`);
    messages.push({
      type: bytes.readUInt16LE(off + 4),
      flags: bytes.readUInt16LE(off + 6),
      seq: bytes.readUInt32LE(off + 8),
      body: bytes.subarray(off + SIZE.NLMSGHDR, off + len),
    });
    off += align4(len);
  }
  if (off < bytes.length) throw new Error(`malformed netlink message at byte ${off}: ${bytes.length - off} bytes left over`);
  return messages;
}
