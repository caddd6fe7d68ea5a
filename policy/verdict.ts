/**
 * `verdict()`: what the datapath decides for one packet, given an endpoint's map state. It applies
 * the precedence documented in mapstate-types.ts (two longest-prefix lookups, deny wins, redirect
 * beats allow, longer prefix wins, identity-specific wins ties, otherwise default deny).
 */
import type { Direction, RuleOrigin } from './api/model.ts';
import type { MapState } from './mapstate.ts';
import { type MapStateRow, keyPortRange, keyPrefixLength } from './mapstate-types.ts';

/** A packet, seen from the endpoint. */
export interface PacketInfo {
  readonly direction: Direction;
  readonly remoteIdentity: number;
  /** IANA protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP, 58 ICMPv6). */
  readonly protocol: number;
  /** Destination port (ICMP: the ICMP type). */
  readonly port: number;
}

/** The decision for a packet. */
export interface Verdict {
  readonly verdict: 'allowed' | 'denied' | 'default-deny' | 'redirect';
  /** The entry that decided (undefined for default deny). */
  readonly match?: MapStateRow;
  readonly derivedFrom: readonly RuleOrigin[];
  /** Proxy port for `redirect`. */
  readonly proxyPort?: number;
}

function rowMatches(r: MapStateRow, p: PacketInfo): boolean {
  const k = r.key;
  if (k.protocol === 0) return true;
  if (k.protocol !== p.protocol) return false;
  const { from, to } = keyPortRange(k);
  return p.port >= from && p.port <= to;
}

/** What a verdict reads: an endpoint's rows by direction and remote identity (a {@link MapState}, or a copy of its rows). */
export type RowSource = Pick<MapState, 'rowsFor'>;

/** The longest-prefix entry for one identity, as one LPM lookup returns it. */
export function lookup(state: RowSource, p: PacketInfo, identity: number): MapStateRow | undefined {
  let best: MapStateRow | undefined;
  for (const r of state.rowsFor(p.direction, identity)) {
    if (!rowMatches(r, p)) continue;
    if (!best || keyPrefixLength(r.key) > keyPrefixLength(best.key)) best = r;
  }
  return best;
}

function choose(specific: MapStateRow | undefined, wildcard: MapStateRow | undefined): MapStateRow | undefined {
  if (!specific || !wildcard) return specific ?? wildcard;
  if (specific.entry.deny || wildcard.entry.deny) return specific.entry.deny ? specific : wildcard;
  const sp = specific.entry.proxyPort !== 0;
  const wp = wildcard.entry.proxyPort !== 0;
  if (sp !== wp) return sp ? specific : wildcard;
  return keyPrefixLength(wildcard.key) > keyPrefixLength(specific.key) ? wildcard : specific;
}

/** Decides one packet against an endpoint's map state. */
export function verdict(state: RowSource, p: PacketInfo): Verdict {
  const specific = p.remoteIdentity === 0 ? undefined : lookup(state, p, p.remoteIdentity);
  const match = choose(specific, lookup(state, p, 0));
  if (!match) return { verdict: 'default-deny', derivedFrom: [] };
  const e = match.entry;
  if (e.deny) return { verdict: 'denied', match, derivedFrom: e.derivedFrom };
  if (e.proxyPort !== 0) return { verdict: 'redirect', match, derivedFrom: e.derivedFrom, proxyPort: e.proxyPort };
  return { verdict: 'allowed', match, derivedFrom: e.derivedFrom };
}
