/**
 * The node's HTTP proxy (run as a process of its own, envoy/proxy-main.ts): transparent listeners on the ingress and egress
 * proxy ports take the connections the datapath hands over (their local address is the original
 * destination), judge every request by the endpoint's HTTP rules as they are at that moment (an egress
 * request to a pod of this node by that pod's ingress rules as well), answer
 * a denied one with upstream's 403 "Access denied", and forward an allowed one to the original
 * destination over one upstream connection per client connection (keep-alive and pipelining kept:
 * requests go upstream in order, answers come back in order). The upstream connection is made from
 * the client's own address and port, so the server sees its real peer and the datapath finds the
 * flow it already tracks (and hands the answers to the proxy). The proxy's sockets carry upstream's
 * proxy marks, so the datapath does not hand their packets over again.
 * Malformed requests get 400 (431 for oversized headers) and are counted; an error on one
 * connection never affects another. Each connection is read and relayed on raw sockets
 * (proxy-connection.ts): only message heads are parsed, bytes are forwarded as received.
 */
import net from 'node:net';
import type { Direction, RuleOrigin } from '../../policy/api/model.ts';
import type { Logger } from '../../runtime/logger.ts';
import { MARK_MAGIC_PROXY_EGRESS, MARK_MAGIC_PROXY_INGRESS } from '../proxy-marks.ts';
import { HttpExchange, type HttpExchangeConnection } from './exchange.ts';
import { ACCESS_DENIED_BODY, localAnswer } from './local-answers.ts';
import type { RequestHead } from './message-head.ts';
import type { HttpPolicyStore } from './policy-store.ts';
import { ProxiedConnection, type RequestDecision } from './proxy-connection.ts';
import { decideHttp, type HeaderAction, type HttpDecision, type HttpRequestInfo } from './rules.ts';
import { requestHeaders } from './request-headers.ts';
import { DEFAULT_UPSTREAM_LINGER, upstreamCloser, type UpstreamCloser } from './upstream-close.ts';

export { ACCESS_DENIED_BODY, UPSTREAM_FAILED_BODY } from './local-answers.ts';

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

/** Where the proxy reports exchanges: each request once decided, and again once its response is complete. */
export interface HttpExchangeSink {
  request(e: HttpExchange): void;
  response(e: HttpExchange): void;
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
  readonly flows?: HttpExchangeSink;
  /** `envoy-http-upstream-linger-timeout` in seconds (default -1: close in the background; upstream-close.ts). */
  readonly upstreamLingerSeconds?: number;
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

/** A request's verdict and the rules that decided it. */
interface HttpVerdict extends HttpDecision {
  readonly origins: readonly RuleOrigin[];
}

const NO_ORIGINS: readonly RuleOrigin[] = [];
const NO_ACTIONS: HttpVerdict['actions'] = [];
/** The proxy holds no policy for the endpoint (it is gone): denied. */
const NO_ROW: HttpVerdict = { allowed: false, rule: -1, actions: NO_ACTIONS, origins: NO_ORIGINS };

interface ConnContext {
  readonly direction: Direction;
  readonly client: HttpFlowEnd;
  readonly original: HttpFlowEnd;
  readonly remoteIdentity: number;
  readonly mark: number;
  /** The ends as the connection's exchanges record them. */
  readonly ends: HttpExchangeConnection;
}

function bareIPv4(ip: string | undefined): string {
  return (ip ?? '').replace(/^::ffff:/, '');
}

function applyHeaderActions(raw: readonly string[], actions: readonly HeaderAction[]): readonly string[] {
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

/** The request head with `raw` as its header fields. */
function rewrittenHead(head: RequestHead, raw: readonly string[]): Buffer {
  let text = `${head.method} ${head.target} HTTP/1.${head.minor}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return Buffer.from(text + '\r\n', 'latin1');
}

/** The per-node HTTP proxy. */
export class HttpProxy {
  readonly stats: HttpProxyStats = { connections: 0, requests: 0, forwarded: 0, denied: 0, malformed: 0, upstreamErrors: 0 };
  readonly #listeners: net.Server[] = [];
  #lingerSeconds: number;
  #closer: UpstreamCloser;
  /** What connections close their upstream connections with: the closer current when they let go of one. */
  readonly #currentCloser: UpstreamCloser = {
    finished: (up) => this.#closer.finished(up),
    abandoned: (up) => this.#closer.abandoned(up),
  };

  constructor(private readonly opts: HttpProxyOptions) {
    this.#lingerSeconds = opts.upstreamLingerSeconds ?? DEFAULT_UPSTREAM_LINGER;
    this.#closer = upstreamCloser(this.#lingerSeconds);
  }

  /** The linger timeout in force (seconds). */
  get upstreamLingerSeconds(): number {
    return this.#lingerSeconds;
  }

  /** A new linger timeout: upstream connections let go of from now on close by it; false when it is already in force. */
  setUpstreamLinger(seconds: number): boolean {
    if (seconds === this.#lingerSeconds) return false;
    this.#closer = upstreamCloser(seconds);
    this.#lingerSeconds = seconds;
    return true;
  }

  /** Opens both listeners. */
  async start(): Promise<void> {
    for (const [direction, port, mark] of [['ingress', this.opts.ingressPort, MARK_MAGIC_PROXY_INGRESS], ['egress', this.opts.egressPort, MARK_MAGIC_PROXY_EGRESS]] as const) {
      const server = net.createServer({ allowHalfOpen: true }, (s) => this.#onConnection(s, direction, mark));
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

  #onConnection(socket: net.Socket, direction: Direction, mark: number): void {
    this.stats.connections++;
    const clientIp = bareIPv4(socket.remoteAddress);
    const originalIp = bareIPv4(socket.localAddress);
    const client = { ip: clientIp, port: socket.remotePort ?? 0, identity: this.opts.identityOf(clientIp) };
    const original = { ip: originalIp, port: socket.localPort ?? 0, identity: this.opts.identityOf(originalIp) };
    const ctx: ConnContext = {
      direction, client, original, remoteIdentity: direction === 'ingress' ? client.identity : original.identity, mark,
      ends: { direction, source: client, destination: original },
    };
    new ProxiedConnection(socket, {
      decide: (head, bytes) => this.#decide(ctx, head, bytes),
      connect: () => this.opts.sockets.connect(client, original, mark),
      closer: this.#currentCloser, stats: this.stats, log: this.opts.log,
    });
  }

  /**
   * The verdict on a request by its connection's row as it is now. An egress request to a pod of
   * this node with ingress HTTP rules is judged by that pod's rules as well (both must allow; the
   * header actions of both apply): the datapath delivers what this node's egress proxy sends
   * without handing it to the ingress proxy (see datapath/bpf/lib/proxy.h).
   */
  #judge(conn: ConnContext, req: HttpRequestInfo): HttpVerdict {
    const row = this.opts.policies.lookup({
      direction: conn.direction, endpoint: conn.direction === 'ingress' ? conn.original.ip : conn.client.ip,
      remoteIdentity: conn.remoteIdentity, port: conn.original.port,
    });
    if (!row) return NO_ROW;
    const origins = row.row?.entry.derivedFrom ?? NO_ORIGINS;
    // The connection was redirected under an older policy: a plain allow passes every request, a deny none.
    if (row.kind !== 'http') return { allowed: row.kind === 'allow', rule: -1, actions: NO_ACTIONS, origins };
    const own = decideHttp(row.policy, req);
    // Built field by field (a spread followed by more fields is slow in V8, and this runs per request).
    if (conn.direction === 'ingress' || !own.allowed) return { allowed: own.allowed, rule: own.rule, actions: own.actions, origins };
    const dest = this.opts.policies.lookup({ direction: 'ingress', endpoint: conn.original.ip, remoteIdentity: conn.client.identity, port: conn.original.port });
    // Only the destination's HTTP rules are judged here; its L3/L4 verdict applies to the proxy's own connection.
    if (dest?.kind !== 'http') return { allowed: true, rule: own.rule, actions: own.actions, origins };
    const theirs = decideHttp(dest.policy, req);
    if (!theirs.allowed) return { allowed: false, rule: -1, actions: [], origins: dest.row.entry.derivedFrom };
    return { allowed: true, rule: own.rule, actions: [...own.actions, ...theirs.actions], origins: [...origins, ...dest.row.entry.derivedFrom] };
  }

  /** Decides a request by the rules as they are now, and records it. */
  #decide(conn: ConnContext, head: RequestHead, bytes: Buffer): RequestDecision {
    this.stats.requests++;
    const headers = requestHeaders(head.rawHeaders);
    const host = (headers.host as string | undefined) ?? '';
    const decision = this.#judge(conn, { method: head.method, path: head.target, host, headers });
    const exchange = new HttpExchange(
      conn.ends, head.method, `http://${host || conn.original.ip}${head.target}`, `HTTP/1.${head.minor}`, head.rawHeaders,
      decision.allowed ? 'FORWARDED' : 'DROPPED', decision.origins, decision.rule, this.opts.flows,
    );
    this.opts.flows?.request(exchange);
    if (!decision.allowed) this.stats.denied++;
    const changes = decision.actions.some((a) => a.action !== 'LOG');
    return {
      allowed: decision.allowed,
      denial: decision.allowed ? undefined : localAnswer(403, ACCESS_DENIED_BODY, head.keepAlive),
      head: changes ? rewrittenHead(head, applyHeaderActions(head.rawHeaders, decision.actions)) : bytes,
      record: exchange,
    };
  }
}
