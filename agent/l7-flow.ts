/**
 * What every L7 proxy record (HTTP, DNS) has in common as a Hubble flow: type L7 with upstream's
 * access-log event type, the two ends as seen on the wire (a reply goes from the server back to the
 * client), the proxy port, and the policies behind the verdict on the side of its direction.
 */
import { randomUUID } from 'node:crypto';
import type { Flow, FlowEndpoint, Layer7 } from '../hubble/flow-types.ts';
import { toTimestamp } from '../hubble/flow-types.ts';
import type { RuleOrigin } from '../policy/api/model.ts';
import { EMITTER, flowPolicies } from './hubble-flow.ts';

/** Upstream's event type of L7 proxy records. */
export const L7_EVENT_TYPE = 129;

/** One address and port of an L7 exchange. */
export interface L7End {
  ip: string;
  port: number;
}

/** One proxy record, as the flow shows it. */
export interface L7FlowParts {
  time: Date;
  verdict: Flow['verdict'];
  /** The request's client and server (a reply goes from `server` to `client`). */
  client: L7End;
  server: L7End;
  clientEndpoint: FlowEndpoint;
  serverEndpoint: FlowEndpoint;
  transport: 'tcp' | 'udp';
  reply: boolean;
  latencyNs?: bigint;
  /** flow.Layer7 without its type and latency (the record's http or dns part). */
  l7: Omit<Layer7, 'type' | 'latency_ns'>;
  direction: 'ingress' | 'egress';
  nodeName: string;
  proxyPort: number;
  summary: string;
  origins: readonly RuleOrigin[];
}

/** The Hubble flow of one L7 proxy record (built without object spreads: it runs for every record a reader or a metric takes). */
export function l7Flow(p: L7FlowParts): Flow {
  const from = p.reply ? p.server : p.client, to = p.reply ? p.client : p.server;
  const ports = { source_port: from.port, destination_port: to.port };
  const policies = flowPolicies(p.origins);
  const allowed = p.verdict !== 'DROPPED';
  const l7: Layer7 = { type: p.reply ? 'RESPONSE' : 'REQUEST' };
  if (p.latencyNs !== undefined) l7.latency_ns = Number(p.latencyNs);
  Object.assign(l7, p.l7);
  const flow: Flow = {
    time: toTimestamp(p.time.getTime()),
    uuid: randomUUID(),
    emitter: EMITTER,
    verdict: p.verdict,
    IP: { source: from.ip, destination: to.ip, ipVersion: from.ip.includes(':') ? 'IPv6' : 'IPv4' },
    l4: p.transport === 'udp' ? { UDP: ports } : { TCP: ports },
    source: p.reply ? p.serverEndpoint : p.clientEndpoint,
    destination: p.reply ? p.clientEndpoint : p.serverEndpoint,
    Type: 'L7',
    l7,
    node_name: p.nodeName,
    event_type: { type: L7_EVENT_TYPE, sub_type: 0 },
    traffic_direction: p.direction === 'ingress' ? 'INGRESS' : 'EGRESS',
    is_reply: { value: p.reply },
    reply: p.reply,
    proxy_port: p.proxyPort,
    Summary: p.summary,
  };
  if (policies.length) flow[`${p.direction}_${allowed ? 'allowed' : 'denied'}_by`] = policies;
  return flow;
}
