// IPv4 address helpers shared by map wrappers and events.

/** Dotted quad to a host-order number (the codecs store it big-endian). */
export function ipv4ToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`invalid IPv4 ${ip}`);
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
}

/** Host-order number to a dotted quad. */
export function numberToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const recentAddresses = new Map<number, string>();

/**
 * {@link numberToIpv4} through a small cache of recent addresses, for hot paths that see the same
 * few addresses again and again (flow events).
 */
export function cachedIpv4(n: number): string {
  let text = recentAddresses.get(n);
  if (text === undefined) {
    if (recentAddresses.size >= 4096) recentAddresses.clear();
    text = numberToIpv4(n);
    recentAddresses.set(n, text);
  }
  return text;
}

/** Parses "a.b.c.d/len" (or a bare address = /32). */
export function parseCidr(cidr: string): { addr: number; len: number } {
  const [ip, lenText] = cidr.split('/');
  const len = lenText === undefined ? 32 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new Error(`invalid prefix length in ${cidr}`);
  return { addr: ipv4ToNumber(ip ?? ''), len };
}
