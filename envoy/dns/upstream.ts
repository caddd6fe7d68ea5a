/**
 * The DNS proxy's side towards DNS servers: one allowed query sent to the server it was meant for
 * and its answer read back. A server that does not answer in time rejects the promise; the proxy
 * then answers SERVFAIL.
 *
 * UDP ({@link UdpUpstreams}): queries to one server share a socket, each sent with a random id
 * none of that socket's outstanding queries has, the answer matched by its source (the server), that
 * id and its question, and given the client's id back. The socket is not connected, so every query
 * is a send of its own: a service address is translated to a backend per query, as with a socket
 * per query. A socket carries a bounded number of queries at once and in all (see
 * {@link UdpUpstreamLimits}); then a new socket (a new random source port) takes over and the old
 * one closes once its last answer is in. Idle sockets close.
 * TCP: a connection per query.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { randomFillSync } from 'node:crypto';
import { connect, isIPv6 } from 'node:net';
import { DnsFrameReader, dnsFrame } from './tcp-framing.ts';

/** An address and port. */
export interface DnsPeer {
  readonly address: string;
  readonly port: number;
}

/** How much one shared UDP socket carries. */
export interface UdpUpstreamLimits {
  /** Queries outstanding at once (default 256). */
  readonly maxOutstanding: number;
  /**
   * Queries sent before a new socket (a new source port) takes over (default 256): a forged answer
   * must guess the port as well as the id and question, and the port changes often.
   */
  readonly maxQueries: number;
  /** A socket with nothing outstanding for this long closes (default 30 s). */
  readonly idleCloseMs: number;
}

const DEFAULT_LIMITS: UdpUpstreamLimits = { maxOutstanding: 256, maxQueries: 256, idleCloseMs: 30_000 };

const HEADER_LENGTH = 12;

/** Settles with the first answer or error `start` reports, or a timeout; then runs what `start` returned. */
function oneAnswer(server: DnsPeer, timeoutMs: number, start: (done: (err: Error | undefined, answer?: Buffer) => void) => () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let cleanup = () => undefined as void;
    const done = (err: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${server.address}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    cleanup = start(done);
    if (settled) cleanup();
  });
}

/** Sends one query over a new TCP connection and resolves with the first answer. */
export function exchangeTcp(query: Buffer, server: DnsPeer, timeoutMs: number): Promise<Buffer> {
  return oneAnswer(server, timeoutMs, (done) => {
    const socket = connect({ host: server.address, port: server.port });
    const frames = new DnsFrameReader();
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`${server.address}:${server.port} closed the connection without an answer`)));
    socket.on('data', (chunk) => {
      const [first] = frames.push(chunk);
      if (first) done(undefined, first);
    });
    socket.write(dnsFrame(query));
    return () => socket.destroy();
  });
}

/** Random 16-bit ids, drawn from the system's CSPRNG a block at a time. */
class RandomIds {
  readonly #pool = new Uint16Array(256);
  #next = this.#pool.length;

  next(): number {
    if (this.#next === this.#pool.length) {
      randomFillSync(this.#pool);
      this.#next = 0;
    }
    return this.#pool[this.#next++]!;
  }
}

/** Where the question section ends (offset after the first question's class), or -1 when it does not parse. */
function questionEnd(msg: Buffer): number {
  if (msg.length < HEADER_LENGTH || msg.readUInt16BE(4) === 0) return -1;
  let at = HEADER_LENGTH;
  for (;;) {
    const len = msg[at];
    if (len === undefined || len > 63) return -1;
    at += 1 + len;
    if (len === 0) break;
  }
  return at + 4 <= msg.length ? at + 4 : -1;
}

/** Whether the answer repeats the query's first question (names compared without case), or asks none. */
function sameQuestion(query: Buffer, queryEnd: number, answer: Buffer): boolean {
  if (answer.length >= HEADER_LENGTH && answer.readUInt16BE(4) === 0) return true;
  if (questionEnd(answer) !== queryEnd) return false;
  for (let i = HEADER_LENGTH; i < queryEnd; i++) {
    const a = query[i]!, b = answer[i]!;
    if (a !== b && !((a ^ b) === 0x20 && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7a)) return false;
  }
  return true;
}

/** One query waiting for its answer on a shared socket. */
interface Outstanding {
  readonly clientId: number;
  /** The query as sent (the proxy's id), for the question check. */
  readonly sent: Buffer;
  readonly questionEnd: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (answer: Buffer) => void;
  readonly reject: (err: Error) => void;
}

/** One UDP socket towards one server and the queries it has outstanding by the proxy's id. */
class SharedUdpSocket {
  readonly #socket: UdpSocket;
  readonly #outstanding = new Map<number, Outstanding>();
  #sent = 0;
  #closed = false;
  /** When the last answer came in (or the socket was made), for the idle sweep. */
  idleSince = Date.now();

  constructor(
    readonly server: DnsPeer, private readonly limits: UdpUpstreamLimits, private readonly ids: RandomIds,
    private readonly onClosed: (s: SharedUdpSocket) => void,
  ) {
    this.#socket = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
    this.#socket.on('message', (msg, from) => {
      if (from.port === server.port && from.address === server.address) this.#received(msg);
    });
    this.#socket.on('error', (err) => this.#fail(err));
  }

  /** Whether it takes another query (not full, not worn out, not closed). */
  get open(): boolean {
    return !this.#closed && this.#sent < this.limits.maxQueries && this.#outstanding.size < this.limits.maxOutstanding;
  }

  /** Whether it may close: nothing outstanding and worn out or idle since `beforeMs`. */
  done(beforeMs: number): boolean {
    return this.#outstanding.size === 0 && (this.#sent >= this.limits.maxQueries || this.idleSince <= beforeMs);
  }

  /** Sends `query` (at least a header) under a fresh id; resolves with the answer, under the client's id again. */
  exchange(query: Buffer, timeoutMs: number): Promise<Buffer> {
    let id = this.ids.next();
    while (this.#outstanding.has(id)) id = this.ids.next();
    const sent = Buffer.allocUnsafe(query.length);
    query.copy(sent);
    sent.writeUInt16BE(id, 0);
    this.#sent++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#settle(id)) reject(new Error(`no answer from ${this.server.address}:${this.server.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#outstanding.set(id, { clientId: query.readUInt16BE(0), sent, questionEnd: questionEnd(sent), timer, resolve, reject });
      this.#socket.send(sent, this.server.port, this.server.address, (err) => {
        if (err && this.#settle(id)) reject(err);
      });
    });
  }

  /** Closes the socket; queries still outstanding fail. */
  close(): void {
    if (this.#closed) return;
    this.#fail(new Error(`the socket towards ${this.server.address}:${this.server.port} closed`));
  }

  /** Takes query `id` out of the outstanding ones and returns it; undefined when it is not there (already settled). */
  #settle(id: number): Outstanding | undefined {
    const q = this.#outstanding.get(id);
    if (!q) return undefined;
    this.#outstanding.delete(id);
    clearTimeout(q.timer);
    if (this.#outstanding.size === 0) {
      this.idleSince = Date.now();
      if (this.#sent >= this.limits.maxQueries) this.#fail(undefined);
    }
    return q;
  }

  #received(msg: Buffer): void {
    if (msg.length < HEADER_LENGTH) return;
    const q = this.#outstanding.get(msg.readUInt16BE(0));
    // An answer to nothing asked, or to another question (late, or forged): not ours.
    if (!q || (q.questionEnd >= 0 && !sameQuestion(q.sent, q.questionEnd, msg))) return;
    this.#settle(msg.readUInt16BE(0));
    msg.writeUInt16BE(q.clientId, 0);
    q.resolve(msg);
  }

  /** Closes the socket, failing what is outstanding with `err` (none: nothing is). */
  #fail(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, q] of [...this.#outstanding]) {
      this.#outstanding.delete(id);
      clearTimeout(q.timer);
      q.reject(err ?? new Error('closed'));
    }
    this.#socket.close();
    this.onClosed(this);
  }
}

/** The proxy's UDP sockets towards DNS servers, shared by the queries to each server. */
export class UdpUpstreams {
  /** `address|port` → the socket that takes new queries, and the retired ones still draining. */
  readonly #current = new Map<string, SharedUdpSocket>();
  readonly #all = new Set<SharedUdpSocket>();
  readonly #ids = new RandomIds();
  readonly #limits: UdpUpstreamLimits;
  readonly #sweep: NodeJS.Timeout;

  constructor(limits: Partial<UdpUpstreamLimits> = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`UdpUpstreams ${k} must be a positive integer, got ${v}`);
    }
    if (this.#limits.maxOutstanding > 0x8000) throw new RangeError(`UdpUpstreams maxOutstanding must be at most 32768 (of 65536 ids), got ${this.#limits.maxOutstanding}`);
    const idle = this.#limits.idleCloseMs;
    this.#sweep = setInterval(() => {
      const before = Date.now() - idle;
      for (const s of [...this.#all]) if (s.done(before)) s.close();
    }, idle);
    this.#sweep.unref();
  }

  /** Sockets open (the current ones and retired ones still waiting for answers). */
  get sockets(): number {
    return this.#all.size;
  }

  /** Sends one query (at least a 12-byte header) to `server` and resolves with its answer (the query's id). */
  exchange(query: Buffer, server: DnsPeer, timeoutMs: number): Promise<Buffer> {
    if (query.length < HEADER_LENGTH) return Promise.reject(new Error(`a DNS query of ${query.length} bytes has no header`));
    const key = `${server.address}|${server.port}`;
    let s = this.#current.get(key);
    if (!s?.open) {
      s = new SharedUdpSocket(server, this.#limits, this.#ids, (closed) => {
        this.#all.delete(closed);
        if (this.#current.get(key) === closed) this.#current.delete(key);
      });
      this.#current.set(key, s);
      this.#all.add(s);
    }
    return s.exchange(query, timeoutMs);
  }

  /** Closes every socket; outstanding queries fail. */
  close(): void {
    clearInterval(this.#sweep);
    for (const s of [...this.#all]) s.close();
  }
}
