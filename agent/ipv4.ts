/** IPv4 address and CIDR arithmetic. */

/** An IPv4 prefix as numbers: network address and prefix length. */
export interface Prefix {
  base: number;
  bits: number;
}

/** Parses a dotted IPv4 address into an unsigned 32-bit number; throws on malformed input. */
export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`invalid IPv4 address "${ip}"`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** Formats an unsigned 32-bit number as a dotted IPv4 address. */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses `a.b.c.d/n` into its network (host bits cleared) and prefix length. */
export function parsePrefix(cidr: string): Prefix {
  const [ip, len] = cidr.split('/');
  const bits = Number(len);
  if (!ip || !Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`invalid IPv4 CIDR "${cidr}"`);
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipToInt(ip) / size) * size, bits };
}

/** Whether `ip` lies inside `cidr`. */
export function contains(cidr: string, ip: string): boolean {
  const p = parsePrefix(cidr);
  const n = ipToInt(ip);
  return n >= p.base && n < p.base + 2 ** (32 - p.bits);
}

/** Whether `cidr` is an IPv4 prefix (IPv6 prefixes are skipped by the IPv4-only pieces). */
export function isIPv4Cidr(cidr: string): boolean {
  try {
    parsePrefix(cidr);
    return true;
  } catch {
    return false;
  }
}
