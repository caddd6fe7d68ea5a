// Per-endpoint policy map: rules -> LPM entries (port ranges become prefixes), enforcement config
// and per-entry counters.
import {
  policyConfigCodec, policyEntryCodec, policyKeyCodec, policyStatsCodec,
  type PolicyConfig, type PolicyEntry, type PolicyKey, type PolicyStats,
} from '../codecs/generated.ts';
import { POLICY_FLAG_DENY, POLICY_STATIC_PREFIX } from '../constants.ts';
import { portRangeToPrefixes as alignedBlocks } from '../../policy/mapstate-types.ts';
import type { BpfMap } from './bpf-map.ts';
import { u32Codec } from './percpu.ts';

/** The policy LPM map of one endpoint. */
export type PolicyMap = BpfMap<PolicyKey, PolicyEntry>;
/** Per-entry packet/byte counters (per CPU), indexed by entry id. */
export type PolicyStatsMap = BpfMap<number, PolicyStats[]>;
/** Default-deny switches of one endpoint. */
export type PolicyConfigMap = BpfMap<number, PolicyConfig>;

/** Key/value codecs of the policy maps. */
export const POLICY_CODECS = {
  key: policyKeyCodec, value: policyEntryCodec, statsValue: policyStatsCodec, configKey: u32Codec, configValue: policyConfigCodec,
} as const;

/** Capacity of the policy map and of its per-entry counters (upstream bpf-policy-map-max default). */
export const POLICY_MAP_MAX = 16384;

/** One computed policy rule for an endpoint. */
export interface PolicyRule {
  /** Traffic direction relative to the endpoint. */
  direction: 'ingress' | 'egress';
  /** Peer security identity; 0 = any peer. */
  identity: number;
  /** IP protocol number; 0 = any (then port must be absent). */
  protocol: number;
  /** Destination port; absent = any port. */
  port?: number;
  /** Inclusive end of a port range starting at port. */
  endPort?: number;
  /** Deny rule (wins over any allow). */
  deny?: boolean;
  /** Redirect admitted traffic to this L7 proxy port. */
  proxyPort?: number;
  /** Lets counters and events be mapped back to the rule: index into policy_stats, 1..16383 (0 = no entry). */
  entryId: number;
}

/**
 * Splits [lo, hi] into aligned port prefixes {port, bits} (bits = significant leading bits of 16), with
 * the policy model's splitter: the policy map state is already made of these blocks.
 */
export function portRangeToPrefixes(lo: number, hi: number): Array<{ port: number; bits: number }> {
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi <= 0xffff && lo <= hi)) {
    throw new RangeError(`invalid port range ${lo}-${hi}`);
  }
  return alignedBlocks(lo, hi).map((b) => ({ port: b.port, bits: b.portPrefixLen }));
}

/** A rule for one aligned port block (no range). */
export type PolicyBlockRule = Omit<PolicyRule, 'port' | 'endPort'>;

/**
 * The LPM row for one aligned block: the first `bits` bits of `port` are significant (0 = any port);
 * with protocol 0 the port is ignored and the row matches every protocol.
 */
export function policyBlockEntry(rule: PolicyBlockRule, port: number, bits: number): [PolicyKey, PolicyEntry] {
  if (!Number.isInteger(rule.entryId) || rule.entryId < 1 || rule.entryId >= POLICY_MAP_MAX) {
    throw new RangeError(`entryId ${rule.entryId} outside 1..${POLICY_MAP_MAX - 1}`);
  }
  const extra = rule.protocol === 0 ? 0 : 8 + bits;
  const key: PolicyKey = {
    prefixlen: POLICY_STATIC_PREFIX + extra,
    secLabel: rule.identity,
    egress: rule.direction === 'egress' ? 1 : 0,
    protocol: rule.protocol,
    dport: rule.protocol === 0 ? 0 : port,
  };
  const value: PolicyEntry = {
    proxyPort: rule.proxyPort ?? 0,
    flags: rule.deny ? POLICY_FLAG_DENY : 0,
    prefixLen: extra,
    entryId: rule.entryId,
  };
  return [key, value];
}

/** The LPM rows for one rule (a port range becomes several aligned blocks). */
export function policyEntries(rule: PolicyRule): Array<[PolicyKey, PolicyEntry]> {
  if (rule.protocol === 0 && rule.port !== undefined) throw new Error('a port needs a protocol');
  const { port, endPort, ...block } = rule;
  const prefixes = rule.protocol === 0 || port === undefined ? [{ port: 0, bits: 0 }] : portRangeToPrefixes(port, endPort ?? port);
  return prefixes.map((p) => policyBlockEntry(block, p.port, p.bits));
}

/** Sets default-deny per direction (true = enforced: traffic not allowed by a rule is dropped). */
export function setEnforcement(map: PolicyConfigMap, ingress: boolean, egress: boolean): void {
  map.update(0, { ingressEnforced: ingress ? 1 : 0, egressEnforced: egress ? 1 : 0 });
}

/** Sums an entry's per-CPU counters. */
export function readPolicyStats(map: PolicyStatsMap, entryId: number): { packets: bigint; bytes: bigint } {
  const per = map.lookup(entryId) ?? [];
  return per.reduce((a, s) => ({ packets: a.packets + s.packets, bytes: a.bytes + s.bytes }), { packets: 0n, bytes: 0n });
}
