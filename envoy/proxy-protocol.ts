/**
 * What the agent and the HTTP proxy process say to each other over the proxy's root-only unix
 * socket (upstream's agent and cilium-envoy talk xDS over /var/run/cilium/envoy/sockets/): one JSON
 * message per line. The agent sends its settings and L7 policy updates; the proxy answers each update, in order, with its
 * acknowledgement, and sends every exchange it proxies: a request and its response in one message
 * when the response came before the batch went out, otherwise each part in a message of its own.
 */
import { join } from 'node:path';
import type net from 'node:net';
import type { L7PolicyAck, L7PolicyUpdate } from './l7-policy-table.ts';
import type { Direction, RuleOrigin } from '../policy/api/model.ts';
import type { HttpExchange } from './http/exchange.ts';
import type { HttpFlowEnd, HttpFlowRecord } from './http/proxy.ts';

/** The proxy's socket below the agent's state dir (upstream: envoy/sockets/ below /var/run/cilium). */
export function proxySocketPath(stateDir: string): string {
  return join(stateDir, 'envoy', 'sockets', 'http-proxy.sock');
}

/** The agent's settings for the proxy, sent on every connection (the proxy applies them to what it does next). */
export interface ProxySettings {
  /** `envoy-http-upstream-linger-timeout`, seconds (http/upstream-close.ts). */
  readonly upstreamLingerSeconds: number;
}

/** From the agent: an L7 policy update (answered), or its settings (not answered; a proxy of the previous release logs and ignores them). */
export type AgentMessage =
  | { readonly type: 'policy'; readonly update: L7PolicyUpdate }
  | { readonly type: 'settings'; readonly settings: ProxySettings };

/** A flow record as a proxy of the previous release sends it (bigint and Date as strings); still read. */
export type WireFlowRecord = Omit<HttpFlowRecord, 'latencyNs' | 'time'> & { readonly latencyNs: string; readonly time: string };

type WireEnd = readonly [ip: string, port: number, identity: number];
type WireRequest = readonly [verdict: HttpFlowRecord['verdict'], timeMs: number, headers: readonly string[]];
type WireResponse = readonly [verdict: HttpFlowRecord['verdict'], code: number, latencyNs: number, timeMs: number];

/** An exchange as it travels, positional (it is sent for every request): what both parts share, then the parts sent (0: not in this message). */
export type WireExchange = readonly [
  direction: Direction, source: WireEnd, destination: WireEnd, method: string, url: string, protocol: string,
  origins: readonly RuleOrigin[], rule: number, request: WireRequest | 0, response: WireResponse | 0,
];

/** From the proxy: the answer to the oldest unanswered update, an exchange, or (a proxy of the previous release) a flow record. */
export type ProxyMessage =
  | { readonly type: 'ack'; readonly endpointId: number; readonly ack: L7PolicyAck }
  | { readonly type: 'exchange'; readonly x: WireExchange }
  | { readonly type: 'flow'; readonly flow: WireFlowRecord };

/** Bits of HttpExchange.wireState: its request's part was sent, its response's, it waits in a batch. */
export const REQUEST_PART = 1, RESPONSE_PART = 2, IN_BATCH = 4;

const wireEnd = (e: HttpFlowEnd): WireEnd => [e.ip, e.port, e.identity];
const flowEnd = (w: WireEnd): HttpFlowEnd => ({ ip: w[0], port: w[1], identity: w[2] });

/** `parts` (REQUEST_PART | RESPONSE_PART) of an exchange as they travel; the response part only once it is complete. */
export function wireExchange(e: HttpExchange, parts: number): WireExchange {
  const r = parts & RESPONSE_PART ? e.response : undefined;
  return [
    e.conn.direction, wireEnd(e.conn.source), wireEnd(e.conn.destination), e.method, e.url, e.protocol, e.origins, e.rule,
    parts & REQUEST_PART ? [e.verdict, e.timeMs, e.headers] : 0,
    r ? [r.verdict, r.code, r.latencyNs, r.timeMs] : 0,
  ];
}

/** The message carrying `parts` of an exchange. */
export function exchangeMessage(e: HttpExchange, parts: number): string {
  return JSON.stringify({ type: 'exchange', x: wireExchange(e, parts) } satisfies ProxyMessage);
}

/** Rule lists as received, one shared array per distinct list (bounded; cleared when full). */
const internedOrigins = new Map<string, readonly RuleOrigin[]>();
const MAX_INTERNED_ORIGINS = 4096;

/**
 * One array for equal rule lists: what is derived from a list once (its flow.Policy entries) is
 * then derived once per list, not once per record.
 */
function internOrigins(origins: readonly RuleOrigin[]): readonly RuleOrigin[] {
  let key = '';
  for (const o of origins) key += `${o.kind}\0${o.namespace ?? ''}\0${o.name}\0${o.ruleIndex}\0${o.path ?? ''}\n`;
  const known = internedOrigins.get(key);
  if (known) return known;
  if (internedOrigins.size >= MAX_INTERNED_ORIGINS) internedOrigins.clear();
  internedOrigins.set(key, origins);
  return origins;
}

/**
 * The flow records of an exchange message: its request's, its response's, or both in that order.
 * Built field by field: an object spread followed by more fields is many times slower in V8, and
 * this runs for every request the proxy sees.
 */
export function exchangeRecords(x: WireExchange): HttpFlowRecord[] {
  const source = flowEnd(x[1]), destination = flowEnd(x[2]), origins = internOrigins(x[6]);
  const request = x[8], response = x[9];
  const out: HttpFlowRecord[] = [];
  if (request) {
    out.push({
      type: 'request', direction: x[0], source, destination, method: x[3], url: x[4], protocol: x[5], headers: request[2],
      verdict: request[0], code: 0, latencyNs: 0n, time: new Date(request[1]), origins, rule: x[7],
    });
  }
  if (response) {
    out.push({
      type: 'response', direction: x[0], source, destination, method: x[3], url: x[4], protocol: x[5], headers: [],
      verdict: response[0], code: response[1], latencyNs: BigInt(response[2]), time: new Date(response[3]), origins, rule: x[7],
    });
  }
  return out;
}

/** The version an ack names when the proxy could not read the update (the agent keeps the previously acknowledged one). */
export const UNREAD_VERSION = -1;

/** A flow record from the wire (a proxy of the previous release). */
export function flowFromWire(f: WireFlowRecord): HttpFlowRecord {
  return { ...f, latencyNs: BigInt(f.latencyNs), time: new Date(f.time) };
}

/** Writes one message. */
export function sendMessage(socket: net.Socket, message: AgentMessage | ProxyMessage): void {
  if (socket.writable) socket.write(JSON.stringify(message) + '\n');
}

/** Longest line accepted (a policy with many rows is well below). */
const MAX_LINE = 64 << 20;

/**
 * Calls `onMessage` for every line `socket` receives, parsed; a line that is not JSON, or an
 * oversized one, ends the connection (the peer is broken), as an exception from `onMessage` does not.
 */
export function readMessages<M>(socket: net.Socket, onMessage: (message: M) => void, onError: (err: Error) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let message: M;
      try {
        message = JSON.parse(line) as M;
      } catch {
        onError(new Error(`proxy socket: a message that is not JSON: ${line.slice(0, 80)}`));
        return void socket.destroy();
      }
      try {
        onMessage(message);
      } catch (err) {
        onError(err as Error);
      }
    }
    if (pending.length > MAX_LINE) {
      onError(new Error(`proxy socket: a message over ${MAX_LINE} bytes`));
      socket.destroy();
    }
  });
}
