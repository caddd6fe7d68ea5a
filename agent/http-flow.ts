/**
 * The HTTP proxy's requests and responses as Hubble flows of type L7 (event type 129, upstream's
 * access-log type): `l7.http` with method, URL and protocol (and a request's headers), and for a response the status code
 * and the latency since its request; the verdict (FORWARDED, DROPPED for a denied request, ERROR
 * when the original destination failed) with the policies whose rule decided it; a request goes
 * from the client to the server, its response back (a reply).
 */
import type { HttpFlowRecord } from '../envoy/http/proxy.ts';
import type { Flow, FlowEndpoint, Layer7 } from '../hubble/flow-types.ts';
import { DeferredFlow } from '../hubble/ring.ts';
import { flowEndpoints, type FlowEndpointSource } from './hubble.ts';
import { l7Flow, type L7FlowParts } from './l7-flow.ts';

function headerList(raw: readonly string[]): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push({ key: raw[i]!, value: raw[i + 1]! });
  return out;
}

function summary(r: HttpFlowRecord): string {
  if (r.type === 'request') return `${r.protocol} ${r.method} ${r.url}`;
  return `${r.protocol} ${r.code} ${Math.round(Number(r.latencyNs) / 1e6)}ms (${r.method} ${r.url})`;
}

/** Builds the flow of one HTTP proxy record, with what was known of its two ends when it arrived. */
export function toHttpFlow(r: HttpFlowRecord, ends: { client: FlowEndpoint; server: FlowEndpoint }, o: { nodeName: string; proxyPort: number }): Flow {
  const reply = r.type === 'response';
  const http: NonNullable<Layer7['http']> = { method: r.method, url: r.url, protocol: r.protocol };
  if (reply) http.code = r.code;
  else http.headers = headerList(r.headers);
  const parts: L7FlowParts = {
    time: r.time, verdict: r.verdict, client: r.source, server: r.destination, transport: 'tcp', reply,
    clientEndpoint: ends.client, serverEndpoint: ends.server,
    l7: { http }, direction: r.direction, nodeName: o.nodeName, proxyPort: o.proxyPort, summary: summary(r), origins: r.origins,
  };
  if (reply) parts.latencyNs = r.latencyNs;
  return l7Flow(parts);
}

interface HttpFlowInput {
  readonly record: HttpFlowRecord;
  readonly client: FlowEndpoint;
  readonly server: FlowEndpoint;
  readonly nodeName: string;
  readonly proxyPort: number;
}

function buildHttpFlow(i: HttpFlowInput): Flow {
  return toHttpFlow(i.record, i, i);
}

/**
 * Makes the ring entries of HTTP proxy records. What is known of a record's ends (pod, namespace,
 * labels) is looked up when it arrives, shared by the records that arrive together, and kept: a
 * flow read later still names the pods of that moment, even once their addresses went to other
 * pods. The flow itself is built when read, so a request costs one small record.
 */
export function httpFlowEntries(ends: FlowEndpointSource): (record: HttpFlowRecord, proxyPort: number) => DeferredFlow {
  let endpointOf: ReturnType<typeof flowEndpoints> | undefined;
  return (record, proxyPort) => {
    if (!endpointOf) {
      endpointOf = flowEndpoints(ends);
      queueMicrotask(() => (endpointOf = undefined));
    }
    const input: HttpFlowInput = {
      record, client: endpointOf(record.source.ip, record.source.identity), server: endpointOf(record.destination.ip, record.destination.identity),
      nodeName: ends.nodeName, proxyPort,
    };
    return DeferredFlow.of(buildHttpFlow, input, record.time.getTime());
  };
}
