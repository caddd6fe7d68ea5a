/**
 * What the agent and the HTTP proxy process say to each other over the proxy's root-only unix
 * socket (upstream's agent and cilium-envoy talk xDS over /var/run/cilium/envoy/sockets/): one JSON
 * message per line. The agent sends L7 policy updates; the proxy answers each, in order, with its
 * acknowledgement, and sends every L7 flow record it makes.
 */
import { join } from 'node:path';
import type net from 'node:net';
import type { L7PolicyAck, L7PolicyUpdate } from './l7-policy-table.ts';
import type { HttpFlowRecord } from './http/proxy.ts';

/** The proxy's socket below the agent's state dir (upstream: envoy/sockets/ below /var/run/cilium). */
export function proxySocketPath(stateDir: string): string {
  return join(stateDir, 'envoy', 'sockets', 'http-proxy.sock');
}

/** From the agent. */
export type AgentMessage = { readonly type: 'policy'; readonly update: L7PolicyUpdate };

/** A flow record as it travels (bigint and Date as strings). */
export type WireFlowRecord = Omit<HttpFlowRecord, 'latencyNs' | 'time'> & { readonly latencyNs: string; readonly time: string };

/** From the proxy: the answer to the oldest unanswered update, or a flow record. */
export type ProxyMessage =
  | { readonly type: 'ack'; readonly endpointId: number; readonly ack: L7PolicyAck }
  | { readonly type: 'flow'; readonly flow: WireFlowRecord };

/** The version an ack names when the proxy could not read the update (the agent keeps the previously acknowledged one). */
export const UNREAD_VERSION = -1;

/** A flow record for the wire. */
export function flowToWire(f: HttpFlowRecord): WireFlowRecord {
  return { ...f, latencyNs: f.latencyNs.toString(), time: f.time.toISOString() };
}

/** A flow record from the wire. */
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
