// Per-endpoint policy map: rules -> LPM entries (port ranges become prefixes), enforcement config
// and per-entry counters.
import {
  policyConfigCodec, policyEntryCodec, policyKeyCodec, policyStatsCodec,
  type PolicyConfig, type PolicyEntry, type PolicyKey, type PolicyStats,
} from '../codecs/generated.ts';
import { POLICY_FLAG_DENY, POLICY_STATIC_PREFIX } from '../constants.ts';
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

/** Splits [lo, hi] into aligned port prefixes {port, bits} (bits = significant leading bits of 16). */
export function portRangeToPrefixes(lo: number, hi: number): Array<{ port: number; bits: number }> {
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi <= 0xffff && lo <= hi)) {
    throw new RangeError(`invalid port range ${lo}-${hi}`);
  }
  const out: Array<{ port: number; bits: number }> = [];
  let cur = lo;
  while (cur <= hi) {
    let size = cur === 0 ? 0x10000 : cur & -cur;
    while (cur + size - 1 > hi) size >>= 1;
    out.push({ port: cur, bits: 16 - Math.log2(size) });
    cur += size;
  }
  return out;
}

/** The LPM rows for one rule. */
export function policyEntries(rule: PolicyRule): Array<[PolicyKey, PolicyEntry]> {
  if (rule.protocol === 0 && rule.port !== undefined) throw new Error('a port needs a protocol');
  if (!Number.isInteger(rule.entryId) || rule.entryId < 1 || rule.entryId >= POLICY_MAP_MAX) {
    throw new RangeError(`entryId ${rule.entryId} outside 1..${POLICY_MAP_MAX - 1}`);
  }
  const prefixes = rule.protocol === 0
    ? [{ port: 0, bits: -8 }]
    : rule.port === undefined
      ? [{ port: 0, bits: 0 }]
      : portRangeToPrefixes(rule.port, rule.endPort ?? rule.port);
  return prefixes.map(({ port, bits }) => {
    const extra = 8 + bits;
    const key: PolicyKey = {
      prefixlen: POLICY_STATIC_PREFIX + extra,
      secLabel: rule.identity,
      egress: rule.direction === 'egress' ? 1 : 0,
      protocol: rule.protocol,
      dport: port,
    };
    const value: PolicyEntry = {
      proxyPort: rule.proxyPort ?? 0,
      flags: rule.deny ? POLICY_FLAG_DENY : 0,
      prefixLen: extra,
      entryId: rule.entryId,
    };
    return [key, value];
  });
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
