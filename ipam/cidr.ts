// Parsing and formatting IPv4/IPv6 prefixes as BigInt ranges.
import { isIPv4, isIPv6 } from 'node:net';

/** Address family of a prefix. */
export type Family = 'ipv4' | 'ipv6';

/** A parsed prefix: its first address as a BigInt, its length and family. */
export interface Prefix {
  /** IPv4 or IPv6. */
  readonly family: Family;
  /** First address of the prefix (host bits zero). */
  readonly base: bigint;
  /** Prefix length in bits. */
  readonly bits: number;
}

/** Width in bits of an address of `family`. */
export function familyBits(family: Family): number {
  return family === 'ipv4' ? 32 : 128;
}

/** Parses an IPv4 or IPv6 address into a BigInt; throws on anything else. */
export function parseAddress(text: string): { family: Family; value: bigint } {
  if (isIPv4(text)) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family: 'ipv4', value };
  }
  if (isIPv6(text)) return { family: 'ipv6', value: parseIPv6(text) };
  throw new Error(`"${text}" is not an IP address`);
}

function parseIPv6(text: string): bigint {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    // Embedded IPv4 tail, e.g. ::ffff:1.2.3.4.
    const v4 = parseAddress(s.slice(lastColon + 1)).value;
    s = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = s.split('::') as [string, string | undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(zeros).fill('0'), ...tailParts];
  return parts.reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
}

/** Formats `value` as an address of `family` (IPv6 in RFC 5952 compressed form). */
export function formatAddress(family: Family, value: bigint): string {
  if (family === 'ipv4') return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** Parses `a.b.c.d/n` or `x::/n`; throws if malformed or if host bits are set. */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`"${text}" is not a CIDR (missing /length)`);
  const { family, value } = parseAddress(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  const bits = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || bits > familyBits(family)) throw new Error(`"${text}" has an invalid prefix length`);
  const hostBits = BigInt(familyBits(family) - bits);
  if (value & ((1n << hostBits) - 1n)) throw new Error(`"${text}" has host bits set`);
  return { family, base: value, bits };
}

/** Formats a prefix as CIDR text. */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.family, p.base)}/${p.bits}`;
}

/** Number of addresses in `p`. */
export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(familyBits(p.family) - p.bits);
}

/** Whether `inner` lies entirely inside `outer`. */
export function contains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || inner.bits < outer.bits) return false;
  return inner.base >= outer.base && inner.base < outer.base + prefixSize(outer);
}

/** Whether two prefixes share any address. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  return contains(a, b) || contains(b, a);
}

/** The family of a CIDR string, or undefined if it does not parse. */
export function familyOf(cidr: string): Family | undefined {
  try {
    return parsePrefix(cidr).family;
  } catch {
    return undefined;
  }
}
