/**
 * The node's HTTP proxy (run as a process of its own, envoy/proxy-main.ts): transparent listeners on the ingress and egress
 * proxy ports take the connections the datapath hands over (their local address is the original
 * destination), judge every request by the endpoint's HTTP rules as they are at that moment, answer
 * a denied one with upstream's 403 "Access denied", and forward an allowed one to the original
 * destination over one upstream connection per client connection (keep-alive and pipelining kept:
 * requests go upstream in order, answers come back in order). The upstream connection is made from
 * the client's own address and port, so the server sees its real peer and the datapath finds the
 * flow it already tracks (and hands the answers to the proxy). The proxy's sockets carry upstream's
 * proxy marks, so the datapath does not hand their packets over again.
 * Malformed requests get 400 (431 for oversized headers) and are counted; an error on one
 * connection never affects another.
 */
import http from 'node:http';
import net from 'node:net';
import type { Direction, RuleOrigin } from '../../policy/api/model.ts';
import type { Logger } from '../../runtime/logger.ts';
import { MARK_MAGIC_PROXY_EGRESS, MARK_MAGIC_PROXY_INGRESS } from '../tproxy.ts';
import type { HttpPolicyStore } from './policy-store.ts';
import { decideHttp, type HeaderAction, type HttpDecision } from './rules.ts';

/** Upstream's answer to a denied request. */
export const ACCESS_DENIED_BODY = 'Access denied\r\n';
/** The answer when the original destination cannot be reached (Envoy's words). */
export const UPSTREAM_FAILED_BODY = 'upstream connect error or disconnect/reset before headers\r\n';

/** One end of a proxied connection. */
export interface HttpFlowEnd {
  readonly ip: string;
  readonly port: number;
  readonly identity: number;
}

/** A request as the proxy decided it, or its response (an L7 flow each). */
export interface HttpFlowRecord {
  readonly type: 'request' | 'response';
  readonly direction: Direction;
  /** The client and the original destination. */
  readonly source: HttpFlowEnd;
  readonly destination: HttpFlowEnd;
  readonly method: string;
  readonly url: string;
  readonly protocol: string;
  /** The request's headers, as received (name, value, name, value, ...). */
  readonly headers: readonly string[];
  /** The request's verdict: FORWARDED, DROPPED (denied), ERROR (the upstream failed). */
  readonly verdict: 'FORWARDED' | 'DROPPED' | 'ERROR';
  /** The response's status code (responses; 0: none, the upstream failed). */
  readonly code: number;
  /** From the request to its response (responses). */
  readonly latencyNs: bigint;
  readonly time: Date;
  /** The rules of the row that decided. */
  readonly origins: readonly RuleOrigin[];
  /** The index of the allowing HTTP rule (-1: allow-all or denied). */
  readonly rule: number;
}

/** Transparent sockets (the native module in the agent; plain ones in tests). */
export interface ProxySockets {
  /** A listening fd for `port`. */
  listen(port: number, mark: number): number;
  /** A socket connecting to `dst` from `src` (any address and port, not only the node's). */
  connect(src: { ip: string; port: number }, dst: { ip: string; port: number }, mark: number): net.Socket;
}

/** Settings and collaborators of the proxy. */
export interface HttpProxyOptions {
  readonly ingressPort: number;
  readonly egressPort: number;
  readonly policies: HttpPolicyStore;
  /** The security identity of an address (the ipcache's longest match; 2 world). */
  identityOf(ip: string): number;
  readonly sockets: ProxySockets;
  readonly log: Logger;
  onFlow?(flow: HttpFlowRecord): void;
}

/** Counters of the proxy. */
export interface HttpProxyStats {
  connections: number;
  requests: number;
  forwarded: number;
  denied: number;
  malformed: number;
  upstreamErrors: number;
}

interface Conn {
  readonly direction: Direction;
  readonly client: HttpFlowEnd;
  readonly original: HttpFlowEnd;
  readonly remoteIdentity: number;
  readonly agent: http.Agent;
}

function bareIPv4(ip: string | undefined): string {
  return (ip ?? '').replace(/^::ffff:/, '');
}

function applyHeaderActions(raw: string[], actions: readonly HeaderAction[]): string[] {
  let out = raw;
  for (const a of actions) {
    if (a.action === 'LOG') continue;
    const kept: string[] = [];
    for (let i = 0; i + 1 < out.length; i += 2) if (a.action === 'ADD' || out[i]!.toLowerCase() !== a.name) kept.push(out[i]!, out[i + 1]!);
    if (a.action !== 'DELETE') kept.push(a.name, a.value);
    out = kept;
  }
  return out;
}

/** The per-node HTTP proxy. */
export class HttpProxy {
  readonly stats: HttpProxyStats = { connections: 0, requests: 0, forwarded: 0, denied: 0, malformed: 0, upstreamErrors: 0 };
  readonly #parser: http.Server;
  readonly #listeners: net.Server[] = [];
  readonly #conns = new WeakMap<net.Socket, Conn>();

  constructor(private readonly opts: HttpProxyOptions) {
    this.#parser = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 300_000, headersTimeout: 60_000 }, (req, res) => {
      try {
        this.#onRequest(req, res);
      } catch (err) {
        // Never the agent's problem: this request fails, the others go on.
        this.opts.log.warn('http proxy request failed', { err: (err as Error).message });
        res.destroy();
      }
    });
    this.#parser.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      this.stats.malformed++;
      if (!socket.writable) return socket.destroy();
      const code = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${code}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    });
  }

  /** Opens both listeners. */
  async start(): Promise<void> {
    for (const [direction, port, mark] of [['ingress', this.opts.ingressPort, MARK_MAGIC_PROXY_INGRESS], ['egress', this.opts.egressPort, MARK_MAGIC_PROXY_EGRESS]] as const) {
      const server = net.createServer((s) => this.#onConnection(s, direction));
      server.on('error', (err) => this.opts.log.error('http proxy listener failed', { port, err: err.message }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ fd: this.opts.sockets.listen(port, mark) }, () => resolve());
      });
      this.#listeners.push(server);
    }
  }

  /** Closes the listeners (connections in progress finish). */
  close(): void {
    for (const l of this.#listeners) l.close();
    this.#listeners.length = 0;
  }

  #onConnection(socket: net.Socket, direction: Direction): void {
    this.stats.connections++;
    socket.on('error', () => socket.destroy());
    const clientIp = bareIPv4(socket.remoteAddress);
    const originalIp = bareIPv4(socket.localAddress);
    const client = { ip: clientIp, port: socket.remotePort ?? 0, identity: this.opts.identityOf(clientIp) };
    const original = { ip: originalIp, port: socket.localPort ?? 0, identity: this.opts.identityOf(originalIp) };
    const remoteIdentity = direction === 'ingress' ? client.identity : original.identity;
    const mark = direction === 'ingress' ? MARK_MAGIC_PROXY_INGRESS : MARK_MAGIC_PROXY_EGRESS;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (agent as unknown as { createConnection: () => net.Socket }).createConnection = () => this.#connect(client, original, mark);
    socket.on('close', () => agent.destroy());
    this.#conns.set(socket, { direction, client, original, remoteIdentity, agent });
    this.#parser.emit('connection', socket);
  }

  /** The upstream socket; a socket that fails (as its request then does) when it cannot even be made. */
  #connect(src: HttpFlowEnd, dst: HttpFlowEnd, mark: number): net.Socket {
    try {
      return this.opts.sockets.connect(src, dst, mark);
    } catch (err) {
      const failed = new net.Socket();
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const conn = this.#conns.get(req.socket);
    if (!conn) return void res.destroy();
    this.stats.requests++;
    const started = process.hrtime.bigint();
    const host = req.headers.host ?? '';
    const row = this.opts.policies.lookup({
      direction: conn.direction, endpoint: conn.direction === 'ingress' ? conn.original.ip : conn.client.ip,
      remoteIdentity: conn.remoteIdentity, port: conn.original.port,
    });
    const decision: HttpDecision = row
      ? decideHttp(row.policy, { method: req.method ?? '', path: req.url ?? '', host, headers: req.headers })
      : { allowed: false, rule: -1, actions: [] };
    const record = (type: HttpFlowRecord['type'], verdict: HttpFlowRecord['verdict'], code: number) => this.opts.onFlow?.({
      type, direction: conn.direction, source: conn.client, destination: conn.original,
      method: req.method ?? '', url: `http://${host || conn.original.ip}${req.url ?? ''}`, protocol: `HTTP/${req.httpVersion}`, headers: req.rawHeaders,
      verdict, code, latencyNs: type === 'response' ? process.hrtime.bigint() - started : 0n, time: new Date(),
      origins: row?.row.entry.derivedFrom ?? [], rule: decision.rule,
    });
    record('request', decision.allowed ? 'FORWARDED' : 'DROPPED', 0);
    if (!decision.allowed) {
      this.stats.denied++;
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(ACCESS_DENIED_BODY) });
      res.end(ACCESS_DENIED_BODY);
      record('response', 'DROPPED', 403);
      return;
    }
    const upstream = http.request({
      host: conn.original.ip, port: conn.original.port, method: req.method, path: req.url, agent: conn.agent, setHost: false,
      headers: applyHeaderActions(req.rawHeaders, decision.actions) as unknown as http.OutgoingHttpHeaders,
    });
    upstream.on('response', (up) => {
      this.stats.forwarded++;
      try {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders as unknown as http.OutgoingHttpHeaders);
      } catch (err) {
        // A response Node would not write (bad header characters): the client gets nothing rather than garbage.
        this.stats.upstreamErrors++;
        this.opts.log.debug('http proxy: upstream response not relayed', { err: (err as Error).message });
        up.destroy();
        res.destroy();
        return;
      }
      up.on('error', () => res.destroy());
      up.pipe(res);
      up.on('end', () => record('response', 'FORWARDED', up.statusCode ?? 0));
    });
    upstream.on('error', (err) => {
      this.stats.upstreamErrors++;
      this.opts.log.debug('http proxy upstream failed', { destination: `${conn.original.ip}:${conn.original.port}`, err: err.message });
      if (!res.headersSent) {
        res.writeHead(503, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(UPSTREAM_FAILED_BODY) });
        res.end(UPSTREAM_FAILED_BODY);
      } else res.destroy();
      record('response', 'ERROR', 0);
    });
    // A client or server that goes away mid-message ends this exchange only.
    req.on('error', () => upstream.destroy());
    res.on('error', () => upstream.destroy());
    req.pipe(upstream);
  }
}
