/**
 * CIDR prefixes: parsing, containment, and the labels of CIDR identities (`cidr:<prefix>` plus
 * `reserved:world`, or world-ipv4/world-ipv6 in dual-stack). IPv6 `:` is written `-` inside labels.
 */
import { type Label, LabelSet, label } from './labels.ts';
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed prefix: family, network address as a bigint, and prefix length. */
export interface Prefix {
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly length: number;
}

function ipv4ToBigint(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(ip: string): bigint {
  let text = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const n = ipv4ToBigint(v4tail[1]!);
    text = text.slice(0, v4tail.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headParts = head ? head.split(':').filter((p) => p !== '') : [];
  const tailParts = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail !== undefined ? missing : 0).fill('0'), ...tailParts];
  return parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n);
}

/** Parses an IP address into family and bits, or undefined if it is not one. */
export function parseIP(ip: string): { family: 4 | 6; bits: bigint } | undefined {
  if (isIPv4(ip)) return { family: 4, bits: ipv4ToBigint(ip) };
  if (isIPv6(ip)) return { family: 6, bits: ipv6ToBigint(ip) };
  return undefined;
}

/** Parses `addr/len` (or a bare address, as a host prefix); undefined if malformed. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const ip = parseIP(addr);
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  const lenText = slash >= 0 ? text.slice(slash + 1) : String(max);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  if (length > max) return undefined;
  return { family: ip.family, bits: maskBits(ip.bits, length, max), length };
}

function maskBits(bits: bigint, length: number, max: number): bigint {
  const hostBits = BigInt(max - length);
  return (bits >> hostBits) << hostBits;
}

/** True when `inner` lies within `outer` (same family, at least as long, same network bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || inner.length < outer.length) return false;
  const max = outer.family === 4 ? 32 : 128;
  return maskBits(inner.bits, outer.length, max) === outer.bits;
}

/** Canonical text of a prefix (network address, compressed IPv6). */
export function formatPrefix(p: Prefix): string {
  if (p.family === 4) {
    const b = Number(p.bits);
    return `${(b >>> 24) & 255}.${(b >>> 16) & 255}.${(b >>> 8) & 255}.${b & 255}/${p.length}`;
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((p.bits >> BigInt(i * 16)) & 0xffffn).toString(16));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  const text = best.start < 0
    ? groups.join(':')
    : `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.len).join(':')}`;
  return `${text}/${p.length}`;
}

/** The `cidr:` label key for a prefix (IPv6 colons become dashes). */
export function cidrLabelKey(p: Prefix): string {
  return formatPrefix(p).replaceAll(':', '-');
}

/** Parses a `cidr:` label key back into a prefix. */
export function parseCidrLabelKey(key: string): Prefix | undefined {
  return parsePrefix(key.includes('-') ? key.replaceAll('-', ':') : key);
}

/** The `cidr:<prefix>` label. */
export function cidrLabel(p: Prefix): Label {
  return label('cidr', cidrLabelKey(p));
}

/**
 * Labels of the node-local identity for a prefix: `cidr:<prefix>` and `reserved:world`, or in
 * dual-stack clusters `reserved:world-ipv4` / `reserved:world-ipv6`.
 */
export function cidrIdentityLabels(p: Prefix, dualStack = false): LabelSet {
  const world = dualStack ? (p.family === 4 ? 'world-ipv4' : 'world-ipv6') : 'world';
  return new LabelSet([cidrLabel(p), label('reserved', world)]);
}

/** `cidrgroup:` label key prefix carried by identities of a CiliumCIDRGroup's prefixes. */
export const CIDR_GROUP_LABEL_PREFIX = 'io.cilium.policy.cidrgroupname/';

/**
 * Labels of the node-local identity for a prefix listed in CiliumCIDRGroups `groups`: the CIDR
 * identity labels plus one `cidrgroup:io.cilium.policy.cidrgroupname/<group>` per group.
 */
export function cidrGroupIdentityLabels(p: Prefix, groups: readonly string[], dualStack = false): LabelSet {
  return cidrIdentityLabels(p, dualStack).with(groups.map((g) => label('cidrgroup', CIDR_GROUP_LABEL_PREFIX + g)));
}
