/**
 * The policy map model the datapath is built from: one map per endpoint, keyed by
 * {@link PolicyKey}, valued by {@link PolicyEntry}. Pure data; the BPF codec lives in datapath/.
 *
 * Key fields (what a BPF LPM key would hold):
 *   direction  ingress | egress (seen from the endpoint)
 *   identity   remote security identity; 0 = any identity (wildcard)
 *   protocol   IANA protocol number; 0 = any protocol (then the port is always wildcarded)
 *   port       first destination port of a block (ICMP: the ICMP type), host byte order
 *   portPrefixLen  how many leading bits of the 16-bit port are significant: 16 = exactly
 *              `port`, 0 = any port; a range is stored as several aligned blocks.
 * Value fields:
 *   deny       drop the packet (a deny entry is never also an allow)
 *   proxyPort  non-zero: redirect to the L7 proxy listening on that port
 *   redirect   the L7 rules the proxy enforces for this entry
 *   derivedFrom  the rules that produced the entry ("why was this allowed or dropped")
 *
 * Precedence (how `verdict()` and the datapath choose, see verdict.ts):
 *   1. two lookups: the remote identity, then identity 0; in each the longest prefix wins
 *      (protocol counts 8 bits, then the port prefix): id+proto+port beats id+proto beats id only;
 *   2. if either result is a deny, the packet is denied (deny wins);
 *   3. otherwise a proxy redirect beats a plain allow;
 *   4. otherwise the longer prefix wins, and on a tie the identity-specific entry wins;
 *   5. no entry found: default deny.
 * The computation guarantees no allow entry is hidden behind a broader deny of the same identity
 * (such allows are turned into denies), so the two-lookup rule above is exact.
 */
import type { Direction, L7Rules, RuleOrigin } from './api/model.ts';

/** IANA protocol numbers used in keys. */
export const PROTOCOL_NUMBERS = { ANY: 0, ICMP: 1, TCP: 6, UDP: 17, ICMPv6: 58, SCTP: 132 } as const;

/** A policy map key. */
export interface PolicyKey {
  readonly direction: Direction;
  readonly identity: number;
  readonly protocol: number;
  readonly port: number;
  readonly portPrefixLen: number;
}

/** The L7 part of a redirect entry: what the proxy enforces. */
export interface L7Redirect {
  readonly parser: L7Rules['parser'];
  /** The L7 rule sets merged into this entry (any of them allows a request). */
  readonly rules: readonly L7Rules[];
  /** True when an L4-only allow covers the same key: the proxy sees traffic but allows all. */
  readonly allowAll: boolean;
  /** Rules of another L7 parser that met this key and were ignored (upstream: invalid policy). */
  readonly conflicts?: readonly string[];
}

/** A policy map value. */
export interface PolicyEntry {
  readonly deny: boolean;
  readonly proxyPort: number;
  readonly redirect?: L7Redirect;
  readonly derivedFrom: readonly RuleOrigin[];
}

/** A key with its entry. */
export interface MapStateRow {
  readonly key: PolicyKey;
  readonly entry: PolicyEntry;
}

/** Changes between two map states: apply `added` and `changed` first, then `removed`. */
export interface MapStateDiff {
  readonly added: readonly MapStateRow[];
  readonly changed: readonly MapStateRow[];
  readonly removed: readonly MapStateRow[];
}

/** Canonical string of a key (usable as a Map key). */
export function keyString(k: PolicyKey): string {
  return `${k.direction}/${k.identity}/${k.protocol}/${k.port}/${k.portPrefixLen}`;
}

/** The inclusive port range a key covers. */
export function keyPortRange(k: PolicyKey): { from: number; to: number } {
  const span = 2 ** (16 - k.portPrefixLen);
  return { from: k.port, to: k.port + span - 1 };
}

/**
 * Splits an inclusive port range into aligned prefix blocks (`port`, `portPrefixLen`), the
 * minimal set an LPM map needs. `from === 0 && to === 65535` gives one /0 block.
 */
export function portRangeToPrefixes(from: number, to: number): { port: number; portPrefixLen: number }[] {
  const out: { port: number; portPrefixLen: number }[] = [];
  let cur = from;
  while (cur <= to) {
    let size = 1;
    let len = 16;
    while (len > 0 && cur % (size * 2) === 0 && cur + size * 2 - 1 <= to) {
      size *= 2;
      len--;
    }
    out.push({ port: cur, portPrefixLen: len });
    cur += size;
  }
  return out;
}

/** True when key `outer` covers key `inner` (same direction and identity, wider or equal proto/port). */
export function keyCovers(outer: PolicyKey, inner: PolicyKey): boolean {
  if (outer.direction !== inner.direction || outer.identity !== inner.identity) return false;
  if (outer.protocol === 0) return true;
  if (outer.protocol !== inner.protocol || outer.portPrefixLen > inner.portPrefixLen) return false;
  const shift = 16 - outer.portPrefixLen;
  return outer.portPrefixLen === 0 || inner.port >>> shift === outer.port >>> shift;
}

/** Prefix length of a key's protocol+port part (0..24), used for longest-prefix matching. */
export function keyPrefixLength(k: PolicyKey): number {
  return k.protocol === 0 ? 0 : 8 + k.portPrefixLen;
}

/** Formats an origin as `Kind/namespace/name[rule]` (plus `@path`). */
export function formatOrigin(o: RuleOrigin): string {
  const ns = o.namespace !== undefined ? `${o.namespace}/` : '';
  return `${o.kind}/${ns}${o.name}[${o.ruleIndex}]${o.path !== undefined ? `@${o.path}` : ''}`;
}

/** Human-readable one-line form of a row (for diffs in tests and CLI output). */
export function formatRow(r: MapStateRow): string {
  const k = r.key;
  const { from, to } = keyPortRange(k);
  const port = k.protocol === 0 || k.portPrefixLen === 0 ? '*' : from === to ? `${from}` : `${from}-${to}`;
  const verdict = r.entry.deny ? 'deny' : r.entry.proxyPort ? `redirect:${r.entry.proxyPort}` : 'allow';
  return `${k.direction} id=${k.identity} proto=${k.protocol || '*'} port=${port} ${verdict} <- ${r.entry.derivedFrom.map(formatOrigin).join(', ')}`;
}

const PROTOCOL_INDEX = new Map<number, number>([[0, 0], [1, 1], [6, 2], [17, 3], [58, 4], [132, 5]]);
const PROTOCOL_BY_INDEX = [0, 1, 6, 17, 58, 132];

/** Number of distinct sub-keys: protocol index (3 bits), port (16), prefix length (5). */
export const SUB_KEY_SPACE = 8 * 65536 * 32;

/**
 * Packs direction and identity into one small integer (identity * 2 + direction), the first half
 * of a packed key. Identities below 2^26 keep it a small integer.
 */
export function identityIndex(direction: Direction, identity: number): number {
  return identity * 2 + (direction === 'egress' ? 1 : 0);
}

/**
 * Packs protocol, port and prefix length into an integer below {@link SUB_KEY_SPACE}, the second
 * half of a packed key. Only the protocols policies produce are encodable.
 */
export function subKey(protocol: number, port: number, portPrefixLen: number): number {
  const p = PROTOCOL_INDEX.get(protocol);
  if (p === undefined) throw new Error(`policy key: unsupported protocol ${protocol}`);
  return (p * 65536 + port) * 32 + portPrefixLen;
}

/** The whole key packed into one safe integer: `identityIndex * SUB_KEY_SPACE + subKey`. */
export function encodeKey(k: PolicyKey): number {
  return identityIndex(k.direction, k.identity) * SUB_KEY_SPACE + subKey(k.protocol, k.port, k.portPrefixLen);
}

/** Rebuilds a key from its two packed halves. */
export function decodeParts(index: number, sub: number): PolicyKey {
  const portPrefixLen = sub % 32;
  const rest = (sub - portPrefixLen) / 32;
  const port = rest % 65536;
  const p = (rest - port) / 65536;
  const dir = index % 2;
  return { direction: dir === 1 ? 'egress' : 'ingress', identity: (index - dir) / 2, protocol: PROTOCOL_BY_INDEX[p]!, port, portPrefixLen };
}

/** Inverse of {@link encodeKey}. */
export function decodeKey(code: number): PolicyKey {
  const sub = code % SUB_KEY_SPACE;
  return decodeParts((code - sub) / SUB_KEY_SPACE, sub);
}
