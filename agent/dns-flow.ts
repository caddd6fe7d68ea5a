/**
 * The DNS proxy's queries and answers as Hubble flows of type L7 (event type 129, upstream's
 * access-log type): `l7.dns` with the query, its types, and for answers the addresses, CNAMEs,
 * record types, the lowest TTL and the rcode; the verdict (FORWARDED, or DROPPED for a refused
 * query) with the rules that decided it; a query goes from the endpoint to the server, an answer
 * back (a reply).
 */
import { randomUUID } from 'node:crypto';
import { DnsRcode, DnsType, dnsTypeName } from '../envoy/dns/message.ts';
import type { DnsProxyRecord } from '../envoy/dns/proxy.ts';
import type { Flow, FlowEndpoint, Layer7 } from '../hubble/flow-types.ts';
import { toTimestamp } from '../hubble/flow-types.ts';
import { EMITTER, flowPolicies } from './hubble-flow.ts';

/** Upstream's event type of L7 proxy records. */
export const L7_EVENT_TYPE = 129;

/** The two ends of a DNS exchange, as the agent knows them. */
export interface DnsFlowEnds {
  /** The endpoint that asked. */
  readonly client: FlowEndpoint;
  /** The server it asked. */
  readonly server: FlowEndpoint;
}

const RCODE_NAMES = new Map<number, string>(Object.entries(DnsRcode).map(([k, v]) => [v, k]));

/** The l7.dns part of a record. */
function dnsInfo(r: DnsProxyRecord): Layer7['dns'] {
  const q = r.query.questions;
  const base = { query: q[0]?.name ?? '', qtypes: q.map((x) => dnsTypeName(x.type)), observation_source: 'proxy' };
  if (r.type === 'request' || !r.response) return base;
  const answers = r.response.answers;
  const ips = answers.filter((a) => a.type === DnsType.A || a.type === DnsType.AAAA).flatMap((a) => a.address ?? []);
  const cnames = answers.flatMap((a) => (a.type === DnsType.CNAME ? a.target ?? [] : []));
  return {
    ...base, rcode: r.response.rcode,
    ...(ips.length ? { ips } : {}), ...(cnames.length ? { cnames } : {}),
    ...(answers.length ? { ttl: Math.min(...answers.map((a) => a.ttl)), rrtypes: [...new Set(answers.map((a) => dnsTypeName(a.type)))] } : {}),
  };
}

function summary(r: DnsProxyRecord, dns: NonNullable<Layer7['dns']>): string {
  const asked = `${dns.query} ${(dns.qtypes ?? []).join(',')}`;
  if (r.type === 'request') return `DNS Query ${asked}`;
  const rcode = dns.rcode ?? 0;
  if (rcode !== DnsRcode.NOERROR) return `DNS Answer RCode: ${RCODE_NAMES.get(rcode) ?? rcode} (Proxy ${asked})`;
  return `DNS Answer "${(dns.ips ?? []).join(',')}" TTL: ${dns.ttl ?? 0} (Proxy ${asked})`;
}

/** Builds the flow of one DNS proxy record. */
export function toDnsFlow(r: DnsProxyRecord, ends: DnsFlowEnds, o: { nodeName: string; proxyPort: number }): Flow {
  const { source, destination, protocol } = r.exchange;
  const reply = r.type === 'response';
  const [from, to] = reply ? [destination, source] : [source, destination];
  const ports = { source_port: from.port, destination_port: to.port };
  const dns = dnsInfo(r)!;
  const policies = flowPolicies(r.decision.origins);
  return {
    time: toTimestamp(r.time.getTime()),
    uuid: randomUUID(),
    emitter: EMITTER,
    verdict: r.decision.allowed ? 'FORWARDED' : 'DROPPED',
    IP: { source: from.address, destination: to.address, ipVersion: from.address.includes(':') ? 'IPv6' : 'IPv4' },
    l4: protocol === 'udp' ? { UDP: ports } : { TCP: ports },
    source: reply ? ends.server : ends.client,
    destination: reply ? ends.client : ends.server,
    Type: 'L7',
    l7: { type: reply ? 'RESPONSE' : 'REQUEST', ...(r.latencyNs !== undefined ? { latency_ns: Number(r.latencyNs) } : {}), dns },
    node_name: o.nodeName,
    event_type: { type: L7_EVENT_TYPE, sub_type: 0 },
    traffic_direction: 'EGRESS',
    is_reply: { value: reply },
    reply,
    proxy_port: o.proxyPort,
    Summary: summary(r, dns),
    ...(policies.length ? { [r.decision.allowed ? 'egress_allowed_by' : 'egress_denied_by']: policies } : {}),
  };
}
