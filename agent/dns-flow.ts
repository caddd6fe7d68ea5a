/**
 * The DNS proxy's queries and answers as Hubble flows of type L7 (event type 129, upstream's
 * access-log type): `l7.dns` with the query, its types, and for answers the addresses, CNAMEs,
 * record types, the lowest TTL and the rcode; the verdict (FORWARDED, or DROPPED for a refused
 * query) with the rules that decided it; a query goes from the endpoint to the server, an answer
 * back (a reply).
 */
import { DnsRcode, DnsType, dnsTypeName } from '../envoy/dns/message.ts';
import type { DnsProxyRecord } from '../envoy/dns/proxy.ts';
import type { Flow, FlowEndpoint, Layer7 } from '../hubble/flow-types.ts';
import { l7Flow } from './l7-flow.ts';

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
  const dns = dnsInfo(r)!;
  return l7Flow({
    time: r.time, verdict: r.decision.allowed ? 'FORWARDED' : 'DROPPED', transport: protocol, reply: r.type === 'response',
    client: { ip: source.address, port: source.port }, server: { ip: destination.address, port: destination.port },
    clientEndpoint: ends.client, serverEndpoint: ends.server,
    ...(r.latencyNs !== undefined ? { latencyNs: r.latencyNs } : {}),
    l7: { dns }, direction: 'egress', nodeName: o.nodeName, proxyPort: o.proxyPort, summary: summary(r, dns), origins: r.decision.origins,
  });
}
