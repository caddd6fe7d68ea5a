// Datapath numbers shared with the BPF programs, with upstream (Cilium) names.

/** Endpoint-relative direction numbers (metrics and events). */
export const Direction = { INGRESS: 1, EGRESS: 2 } as const;

/** Upstream drop reason codes emitted by this datapath (pkg/monitor/api/drop.go). */
export const DropReason = {
  POLICY_DENIED: 133,
  UNKNOWN_L3: 139,
  INVALID_PACKET: 134,
  NO_LXC: 152,
  NO_SERVICE: 158,
  POLICY_DENY: 181,
} as const;

/** Upstream descriptions of drop reasons, by code. */
export const DROP_REASON_NAMES: Readonly<Record<number, string>> = {
  133: 'Policy denied',
  134: 'Invalid packet',
  139: 'Unsupported L3 protocol',
  152: 'No matching local container found',
  158: 'Service backend not found',
  181: 'Policy denied by denylist',
};

/** Upstream's text for a drop reason code (`Unknown (<code>)` for one it does not name). */
export function dropReasonText(code: number): string {
  return DROP_REASON_NAMES[code] ?? `Unknown (${code})`;
}

/** Upstream's direction label (`INGRESS`, `EGRESS`) of a datapath direction code. */
export function directionText(dir: number): string {
  return dir === Direction.INGRESS ? 'INGRESS' : dir === Direction.EGRESS ? 'EGRESS' : 'UNKNOWN';
}

/** Upstream policy-verdict match types. */
export const MatchType = {
  NONE: 0,
  L3_ONLY: 1,
  L3_L4: 2,
  L4_ONLY: 3,
  ALL: 4,
  L3_PROTO: 5,
  PROTO_ONLY: 6,
} as const;

/** Monitor message types used by flow events. */
export const EventType = { DROP: 1, TRACE: 4, POLICY_VERDICT: 5 } as const;

/** flow_event.flags bits (events.h). */
export const FLOW_FLAG = { SERVICE_LOOPBACK: 0x1 } as const;

/** Conntrack state carried in events. */
export const CtState = { NEW: 0, ESTABLISHED: 1, REPLY: 2 } as const;

/** Reserved identities. */
export const Identity = { UNKNOWN: 0, HOST: 1, WORLD: 2 } as const;

/** policy_entry.flags bits. */
export const POLICY_FLAG_DENY = 0x1;

/** policy key prefix bits before protocol and port (sec_label + egress). */
export const POLICY_STATIC_PREFIX = 40;

/** ipcache key prefix bits before the address (cluster_id + pad + family). */
export const IPCACHE_STATIC_PREFIX = 32;

/** Name of a match type number. */
export function matchTypeName(n: number): string {
  return MATCH_TYPE_NAMES.get(n) ?? `UNKNOWN_${n}`;
}

const MATCH_TYPE_NAMES = new Map<number, string>(Object.entries(MatchType).map(([name, v]) => [v, name]));

/** Upstream's default `ipv4-service-loopback-address`: the source a pod sees on a connection it made to itself through a service. */
export const SERVICE_LOOPBACK_IPV4 = '169.254.42.1';
