/**
 * The DNS proxy: listens on a proxy port for UDP and TCP DNS, decides each query with the
 * policy of the endpoint that sent it (the handler's `decide`, see rules.ts), forwards allowed
 * queries to the server they were sent to and relays the answer, and answers denied ones
 * REFUSED (upstream's default `tofqdns-dns-reject-response-code`; NXDOMAIN for `nameError`).
 * Each answer is handed to the handler before the client sees it (the FQDN cache learns the
 * addresses, and policy allows them, before the client can connect to them), and every query
 * and answer becomes a record (a denied query one record: the request, not allowed).
 *
 * Where a query was going: with a transparent redirect (TPROXY, `bpf_sk_assign`) a TCP
 * connection's local address is the original destination, and a UDP listener reports each
 * datagram's original destination and answers from it ({@link DnsUdpListener}). Without one (tests,
 * or a client that names the proxy), `upstream` names the server every query goes to.
 *
 * Bad input never stops the proxy: a message without a header is dropped, one that does not
 * parse is answered FORMERR, a server that fails or is silent gets SERVFAIL, and a TCP client that
 * stalls only holds its own connection (closed after `idleTimeoutMs`).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { type DnsMessage, DnsFormatError, DnsRcode, decodeDnsMessage, encodeDnsMessage, dnsMessageId, rcodeResponse } from './message.ts';
import type { DnsDecision } from './rules.ts';
import { DnsFrameReader, dnsFrame } from './tcp-framing.ts';
import { type DnsPeer, exchangeTcp, UdpUpstreams } from './upstream.ts';

export type { DnsPeer } from './upstream.ts';

/** One query's path: who sent it, where it was going, over what. */
export interface DnsExchange {
  readonly protocol: 'udp' | 'tcp';
  readonly source: DnsPeer;
  /** The original destination (the DNS server the client addressed), or the explicit upstream. */
  readonly destination: DnsPeer;
}

/** A query or an answer, as the proxy observed it (Hubble L7 flows are made from these). */
export interface DnsProxyRecord {
  readonly type: 'request' | 'response';
  readonly exchange: DnsExchange;
  readonly query: DnsMessage;
  /** The answer relayed (responses only; a SERVFAIL the proxy made itself too). */
  readonly response?: DnsMessage;
  readonly decision: DnsDecision;
  /** Time from the query to the answer (responses only). */
  readonly latencyNs?: bigint;
  readonly time: Date;
}

/** What the proxy asks of the agent. */
export interface DnsProxyHandler {
  /** Decides a query. */
  decide(exchange: DnsExchange, query: DnsMessage): DnsDecision | Promise<DnsDecision>;
  /** Sees each answer of an allowed query before it is relayed; the answer waits for it. */
  answered?(exchange: DnsExchange, query: DnsMessage, response: DnsMessage): void | Promise<void>;
  /** Receives every query and answer. */
  record?(r: DnsProxyRecord): void;
  /** Reports a failure that did not stop the proxy (a bad message, a server that failed). */
  warn?(message: string, fields: Record<string, unknown>): void;
}

/** A UDP socket that reports each datagram's original destination and answers from it. */
export interface DnsUdpListener {
  /** Installs the receiver of datagrams. */
  onDatagram(receive: (msg: Buffer, source: DnsPeer, destination: DnsPeer) => void): void;
  /** Sends `msg` to `to` with `from` (a datagram's original destination) as its source. */
  send(msg: Buffer, to: DnsPeer, from: DnsPeer): void;
  close(): void;
}

/** Settings of a proxy. */
export interface DnsProxyOptions {
  /** Listening address; default 0.0.0.0. */
  readonly host?: string;
  /** The proxy port (0: any free port, see {@link DnsProxy.port}). */
  readonly port: number;
  /** Every query goes here instead of its original destination (no transparent redirect). */
  readonly upstream?: DnsPeer;
  /** The UDP side; default a plain socket on host:port whose own address is the destination. */
  readonly udp?: DnsUdpListener;
  /** A listening TCP socket to adopt (a transparent one: accepted connections keep their original destination). */
  readonly tcpFd?: number;
  /** The rcode of denied queries (`tofqdns-dns-reject-response-code`; default REFUSED). */
  readonly rejectRcode?: number;
  /** How long a server may take to answer (upstream's proxy waits 10 s). */
  readonly timeoutMs?: number;
  /** How long a TCP client may stay silent before its connection is closed. */
  readonly idleTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_MS = 30_000;

/** A plain UDP socket: every datagram's destination is the socket's own address. */
async function plainUdpListener(host: string, port: number): Promise<DnsUdpListener & { port: number }> {
  const socket: UdpSocket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // Errors of single sends (an unreachable client) must not stop the listener.
  socket.on('error', () => undefined);
  const local = socket.address();
  return {
    port: local.port,
    onDatagram(receive) {
      socket.on('message', (msg, rinfo) => receive(msg, { address: rinfo.address, port: rinfo.port }, { address: local.address, port: local.port }));
    },
    send(msg, to) {
      socket.send(msg, to.port, to.address);
    },
    close: () => socket.close(),
  };
}

/** A running DNS proxy. */
export class DnsProxy {
  #tcp: Server | undefined;
  #udp: DnsUdpListener | undefined;
  readonly #clients = new Set<Socket>();
  readonly #upstreams = new UdpUpstreams();
  #port = 0;

  private constructor(private readonly opts: DnsProxyOptions, private readonly handler: DnsProxyHandler) {}

  /** Starts a proxy listening on UDP and TCP; when either cannot listen, neither stays open. */
  static async start(opts: DnsProxyOptions, handler: DnsProxyHandler): Promise<DnsProxy> {
    const proxy = new DnsProxy(opts, handler);
    try {
      await proxy.#listen();
    } catch (err) {
      proxy.close();
      throw err;
    }
    return proxy;
  }

  /** The port it listens on (TCP; UDP is the same unless a listener was given). */
  get port(): number {
    return this.#port;
  }

  /** Stops listening and closes client connections. */
  close(): void {
    this.#udp?.close();
    this.#tcp?.close();
    for (const c of this.#clients) c.destroy();
    this.#upstreams.close();
  }

  async #listen(): Promise<void> {
    const host = this.opts.host ?? '0.0.0.0';
    const tcp = createServer((socket) => this.#serveTcp(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      const ready = () => {
        tcp.off('error', reject);
        resolve();
      };
      if (this.opts.tcpFd !== undefined) tcp.listen({ fd: this.opts.tcpFd }, ready);
      else tcp.listen(this.opts.port, host, ready);
    });
    tcp.on('error', (err) => this.handler.warn?.('DNS proxy TCP listener error', { err: err.message }));
    this.#tcp = tcp;
    this.#port = (tcp.address() as { port: number }).port;
    const udp = this.opts.udp ?? (await plainUdpListener(host, this.#port));
    udp.onDatagram((msg, source, destination) => {
      void this.#handle(msg, { protocol: 'udp', source, destination: this.opts.upstream ?? destination }, (answer) => {
        try {
          udp.send(answer, source, destination);
        } catch (err) {
          this.handler.warn?.('DNS answer could not be sent', { client: `${source.address}:${source.port}`, err: (err as Error).message });
        }
      });
    });
    this.#udp = udp;
  }

  #serveTcp(socket: Socket): void {
    this.#clients.add(socket);
    socket.setTimeout(this.opts.idleTimeoutMs ?? DEFAULT_IDLE_MS, () => socket.destroy());
    socket.on('close', () => this.#clients.delete(socket));
    socket.on('error', () => socket.destroy());
    const exchange: DnsExchange = {
      protocol: 'tcp',
      source: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      destination: this.opts.upstream ?? { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    };
    const frames = new DnsFrameReader();
    socket.on('data', (chunk) => {
      for (const msg of frames.push(chunk)) {
        void this.#handle(msg, exchange, (answer) => {
          if (!socket.destroyed) socket.write(dnsFrame(answer));
        });
      }
    });
  }

  /**
   * One query to its answer, handed to `reply` (nothing for a message without a header); the
   * records are made after the reply, off the client's path. Never rejects.
   */
  async #handle(msg: Buffer, exchange: DnsExchange, reply: (answer: Buffer) => void): Promise<void> {
    const start = process.hrtime.bigint();
    const time = new Date();
    let query: DnsMessage;
    try {
      query = decodeDnsMessage(msg);
      if (query.qr) throw new DnsFormatError('header.qr', 'a response was sent to the proxy');
      if (query.questions.length === 0) throw new DnsFormatError('question', 'no question');
    } catch (err) {
      this.handler.warn?.('malformed DNS query', { source: `${exchange.source.address}:${exchange.source.port}`, err: (err as Error).message });
      const id = dnsMessageId(msg);
      if (msg.length >= 12 && id !== undefined) reply(encodeDnsMessage({ id, qr: true, rcode: DnsRcode.FORMERR }));
      return;
    }
    let decision: DnsDecision;
    try {
      decision = await this.handler.decide(exchange, query);
    } catch (err) {
      this.handler.warn?.('DNS query could not be decided; refused', { err: (err as Error).message });
      decision = { allowed: false, origins: [] };
    }
    // A denied query is recorded once, as upstream's proxy logs it: the request, dropped.
    if (!decision.allowed) {
      reply(rcodeResponse(query, this.opts.rejectRcode ?? DnsRcode.REFUSED));
      this.#record({ type: 'request', exchange, query, decision, time });
      return;
    }
    const server = exchange.destination;
    const timeout = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The query leaves (synchronously) before its record is made.
    const asked = this.#ask(msg, exchange.protocol, server, timeout);
    this.#record({ type: 'request', exchange, query, decision, time });
    let answer: { raw: Buffer; response: DnsMessage };
    try {
      const raw = await asked;
      const response = decodeDnsMessage(raw);
      await this.handler.answered?.(exchange, query, response);
      answer = { raw, response };
    } catch (err) {
      this.handler.warn?.('DNS server failed; answering SERVFAIL', { server: `${server.address}:${server.port}`, err: (err as Error).message });
      answer = rcodeAnswer(query, DnsRcode.SERVFAIL);
    }
    reply(answer.raw);
    this.#record({ type: 'response', exchange, query, response: answer.response, decision, latencyNs: process.hrtime.bigint() - start, time: new Date() });
  }

  /** Sends the query to `server`; what fails, even at once, rejects. */
  #ask(msg: Buffer, protocol: DnsExchange['protocol'], server: DnsPeer, timeoutMs: number): Promise<Buffer> {
    try {
      return protocol === 'udp' ? this.#upstreams.exchange(msg, server, timeoutMs) : exchangeTcp(msg, server, timeoutMs);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  #record(r: DnsProxyRecord): void {
    try {
      this.handler.record?.(r);
    } catch (err) {
      this.handler.warn?.('DNS record sink failed', { err: (err as Error).message });
    }
  }
}

/** An answer the proxy makes itself: `rcode`, the question, no records. */
function rcodeAnswer(query: DnsMessage, rcode: number): { raw: Buffer; response: DnsMessage } {
  const raw = rcodeResponse(query, rcode);
  return { raw, response: decodeDnsMessage(raw) };
}
