// Attribute values: the byte forms of numbers, names, IPv4 and MAC addresses, both ways.
import { ipv4ToNumber, numberToIpv4 } from '../net.ts';

/** A u32 in host order. */
export function u32Value(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** A NUL-terminated string (interface names, link kinds). */
export function stringValue(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'latin1');
}

/** An IPv4 address in network order. */
export function ipv4Value(ip: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ipv4ToNumber(ip));
  return b;
}

/** A MAC address "aa:bb:cc:dd:ee:ff" as its 6 bytes; throws on anything else. */
export function macValue(mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new Error(`invalid MAC address "${mac}"`);
  return Buffer.from(mac.replaceAll(':', ''), 'hex');
}

/** A u32 value read back. */
export function readU32(b: Buffer): number {
  return b.readUInt32LE(0);
}

/** A string value read back, up to its NUL. */
export function readString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('latin1', 0, end < 0 ? b.length : end);
}

/** An IPv4 address read back as a dotted quad. */
export function readIpv4(b: Buffer): string {
  return numberToIpv4(b.readUInt32BE(0));
}

/** A link-layer address read back as lowercase hex pairs joined by colons. */
export function readMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
