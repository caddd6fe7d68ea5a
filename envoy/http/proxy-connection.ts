/**
 * One client connection through the HTTP proxy, on raw sockets: request heads are read from the
 * client's bytes and decided as they arrive; an allowed request's bytes go upstream unchanged (its
 * head rewritten only when header actions apply) over one upstream connection, made when the first
 * allowed request needs it; only the upstream's response heads are read, to know where each
 * response ends, and every byte is relayed as received. Answers reach the client in request order
 * (pipelining), local ones (403, 503) included. Each side's buffers are bounded: a side that does
 * not read stops the other.
 */
import type net from 'node:net';
import type { Logger } from '../../runtime/logger.ts';
import { BodyReader } from './body-framing.ts';
import { CONTINUE, localAnswer, UPSTREAM_FAILED_BODY } from './local-answers.ts';
import { HeadError, headEnd, MAX_HEAD_BYTES, parseRequestHead, parseResponseHead, type RequestHead } from './message-head.ts';
import type { HttpFlowRecord, HttpProxyStats } from './proxy.ts';
import type { UpstreamCloser } from './upstream-close.ts';

/** Where an exchange's end is recorded. */
export interface ExchangeRecorder {
  /** Records the exchange's end: its verdict and the response's code (0: none). */
  finish(verdict: HttpFlowRecord['verdict'], code: number): void;
}

/** A request's decision, as the proxy made and recorded it. */
export interface RequestDecision {
  readonly allowed: boolean;
  /** The answer to a denied request. */
  readonly denial?: Buffer;
  /** What goes upstream for an allowed request: the head as received, or as header actions changed it. */
  readonly head: Buffer;
  readonly record: ExchangeRecorder;
}

/** The recorder of an answer that belongs to no decided request (a malformed one). */
const UNRECORDED: ExchangeRecorder = { finish: () => undefined };

/** What a connection asks of the proxy. */
export interface ConnectionHooks {
  /** Decides a request whose head (`bytes`) just arrived, and records it. */
  decide(head: RequestHead, bytes: Buffer): RequestDecision;
  /** A new upstream connection; throws when it cannot even be made. */
  connect(): net.Socket;
  /** Closes an upstream connection the client connection no longer needs (the linger timeout). */
  readonly closer: UpstreamCloser;
  readonly stats: HttpProxyStats;
  readonly log: Logger;
}

/** Requests read ahead of their answers (pipelining) before the client is no longer read. */
const MAX_PIPELINED = 32;
/** Bytes queued for a socket before the other side is no longer read. */
const HIGH_WATER = 256 * 1024;
/** An idle client connection is closed after this (Node's keep-alive timeout as configured before). */
const IDLE_MS = 60_000;
/** A request head must be complete within this. */
const HEAD_MS = 60_000;
/** A request's body must be complete within this of its head (Node's request timeout as configured before). */
const BODY_MS = 300_000;
/** An upstream that says nothing for this long while answers are due is given up. */
const UPSTREAM_MS = 300_000;

interface Exchange {
  readonly method: string;
  /** The request's connection may carry more requests. */
  readonly keepAlive: boolean;
  readonly upgrade: boolean;
  /** The complete local answer (denied, upstream failed); undefined: the upstream answers. */
  local: Buffer | undefined;
  /** A 100 Continue is due before the upstream's answer. */
  continueDue: boolean;
  /** Bytes of the upstream's answer reached the client. */
  answered: boolean;
  readonly record: ExchangeRecorder;
}

/** A client connection and its upstream connection. */
export class ProxiedConnection {
  #pending: Buffer | undefined;
  /** The request body being read, and where it goes (undefined: dropped). */
  #body: BodyReader | undefined;
  #bodyTo: net.Socket | undefined;
  readonly #queue: Exchange[] = [];
  #upstream: net.Socket | undefined;
  #upPending: Buffer | undefined;
  #response: { reader: BodyReader; status: number; keepAlive: boolean } | undefined;
  /** No request head is read any more (the last one said close, or the client could not be understood). */
  #lastRequest = false;
  /** The connection is ending: nothing more is read from the client. */
  #ended = false;
  /** An upgrade request waits for its answer before anything after it is read. */
  #awaitingUpgrade = false;
  #tunnel = false;
  #reading = false;
  /** The client sent its last byte: the connection ends once the answers due are written. */
  #clientEnded = false;
  #headTimer: NodeJS.Timeout | undefined;
  #bodyTimer: NodeJS.Timeout | undefined;
  /** The run of the upstream's bytes being relayed to the client, not yet written. */
  #runFrom = 0;
  #runTo = 0;

  constructor(private readonly client: net.Socket, private readonly hooks: ConnectionHooks) {
    client.setNoDelay(true);
    client.setTimeout(IDLE_MS, () => {
      if (this.#queue.length === 0 && !this.#body) client.destroy();
    });
    client.on('data', (chunk: Buffer) => this.#onClientData(chunk));
    client.on('drain', () => this.#resumeReading());
    client.on('end', () => {
      this.#clientEnded = true;
      if (this.#tunnel) this.#upstream?.end();
      else this.#endWhenAnswered();
    });
    client.on('error', () => client.destroy());
    client.on('close', () => {
      clearTimeout(this.#headTimer);
      clearTimeout(this.#bodyTimer);
      const up = this.#upstream;
      this.#upstream = undefined;
      if (up) this.hooks.closer.abandoned(up);
    });
  }

  #onClientData(chunk: Buffer): void {
    if (this.#tunnel) {
      this.#upstream?.write(chunk);
      return this.#flowControl();
    }
    if (this.#ended) return;
    this.#pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#readRequests();
  }

  /** Reads what the client sent: bodies relayed or dropped, heads decided. */
  #readRequests(): void {
    const buf = this.#pending;
    if (!buf || this.#reading) return;
    this.#reading = true;
    const upstream = this.#upstream;
    upstream?.cork();
    let off = 0;
    try {
      while (off < buf.length && !this.#ended && !this.#tunnel && (this.#body || !this.#lastRequest)) {
        if (this.#body) {
          const n = this.#body.consume(buf, off);
          this.#bodyTo?.write(buf.subarray(off, off + n));
          off += n;
          if (this.#body.done) this.#bodyDone();
          continue;
        }
        if (this.#awaitingUpgrade || this.#queue.length >= MAX_PIPELINED) break;
        while (off + 1 < buf.length && buf[off] === 0x0d && buf[off + 1] === 0x0a) off += 2;
        const end = headEnd(buf, off);
        if (end < 0) break;
        const head = parseRequestHead(buf, off, end);
        if (head.method === 'CONNECT') throw new HeadError(400, 'CONNECT is not proxied');
        this.#onRequest(head, buf.subarray(off, end));
        off = end;
      }
    } catch (err) {
      this.#malformed(err as Error);
      off = buf.length;
    } finally {
      this.#reading = false;
      upstream?.uncork();
    }
    this.#pending = off < buf.length && !this.#ended && (this.#body || !this.#lastRequest) ? buf.subarray(off) : undefined;
    this.#watchHead();
    this.#flowControl();
  }

  /** A request the client could not make understood: answered (after the answers before it), then the connection closes. */
  #malformed(err: Error): void {
    this.hooks.stats.malformed++;
    if (this.#body && this.#bodyTo) {
      // Half a request went upstream already: nothing sensible can follow on either connection.
      this.client.destroy();
      return;
    }
    const status = err instanceof HeadError ? err.status : 400;
    this.#bodyDone();
    this.#lastRequest = true;
    this.#queue.push({ method: '', keepAlive: false, upgrade: false, local: localAnswer(status, '', false), continueDue: false, answered: false, record: UNRECORDED });
    this.#flushFront();
  }

  /** A client that leaves a request head unfinished too long gets 408 and is closed. */
  #watchHead(): void {
    const partial = this.#pending !== undefined && !this.#body && !this.#lastRequest && !this.#awaitingUpgrade && this.#queue.length < MAX_PIPELINED;
    if (!partial) {
      clearTimeout(this.#headTimer);
      this.#headTimer = undefined;
    } else this.#headTimer ??= setTimeout(() => {
      this.client.end(localAnswer(408, '', false));
      this.client.destroySoon();
    }, HEAD_MS);
  }

  #onRequest(head: RequestHead, bytes: Buffer): void {
    const d = this.hooks.decide(head, bytes);
    const ex: Exchange = { method: head.method, keepAlive: head.keepAlive, upgrade: head.upgrade, local: undefined, continueDue: head.expectContinue, answered: false, record: d.record };
    if (!head.keepAlive) this.#lastRequest = true;
    let to: net.Socket | undefined;
    if (!d.allowed) {
      // As before: a client expecting 100 Continue gets it, sends its body (dropped), then the 403.
      ex.local = head.expectContinue ? Buffer.concat([CONTINUE, d.denial!]) : d.denial;
      d.record.finish('DROPPED', 403);
    } else if ((to = this.#upstreamSocket())) {
      to.write(d.head);
      if (head.upgrade) this.#awaitingUpgrade = true;
    } else {
      this.hooks.stats.upstreamErrors++;
      ex.local = localAnswer(503, UPSTREAM_FAILED_BODY, head.keepAlive);
      d.record.finish('ERROR', 0);
    }
    if (head.framing.kind !== 'none') {
      this.#body = new BodyReader(head.framing);
      this.#bodyTo = to;
      this.#bodyTimer = setTimeout(() => this.client.destroy(), BODY_MS);
    }
    this.#queue.push(ex);
    this.#flushFront();
  }

  #bodyDone(): void {
    this.#body = this.#bodyTo = undefined;
    clearTimeout(this.#bodyTimer);
  }

  /** Writes the local answers now at the front, and a 100 Continue the front exchange is due. */
  #flushFront(): void {
    let ex: Exchange | undefined;
    while ((ex = this.#queue[0])?.local) {
      this.client.write(ex.local);
      this.#queue.shift();
      if (!ex.keepAlive) return this.#endClient();
    }
    if (ex?.continueDue) {
      ex.continueDue = false;
      this.client.write(CONTINUE);
    }
    this.#endWhenAnswered();
  }

  /** A client that has sent everything is closed once nothing is due to it. */
  #endWhenAnswered(): void {
    if (this.#clientEnded && this.#queue.length === 0 && !this.#tunnel && !this.client.destroyed) this.#endClient();
  }

  /** The upstream connection, made when needed; undefined when it cannot be made. */
  #upstreamSocket(): net.Socket | undefined {
    if (this.#upstream) return this.#upstream;
    let s: net.Socket;
    try {
      s = this.hooks.connect();
    } catch (err) {
      this.hooks.log.debug('http proxy upstream failed', { err: (err as Error).message });
      return undefined;
    }
    s.setNoDelay(true);
    s.setTimeout(UPSTREAM_MS, () => this.#onUpstreamGone(s, new Error('upstream timed out')));
    s.on('data', (chunk: Buffer) => this.#onUpstreamData(s, chunk));
    s.on('drain', () => this.#resumeReading());
    s.on('end', () => this.#onUpstreamGone(s, undefined));
    s.on('close', () => this.#onUpstreamGone(s, undefined));
    s.on('error', (err) => this.#onUpstreamGone(s, err));
    this.#upstream = s;
    return s;
  }

  #onUpstreamData(s: net.Socket, chunk: Buffer): void {
    if (s !== this.#upstream) return;
    if (this.#tunnel) {
      this.client.write(chunk);
      return this.#flowControl();
    }
    const buf = this.#upPending ? Buffer.concat([this.#upPending, chunk]) : chunk;
    let off = 0;
    try {
      while (off < buf.length && s === this.#upstream && !this.#tunnel) {
        const ex = this.#queue[0];
        if (!ex || ex.local) throw new Error('an answer to no request');
        if (this.#response) {
          const n = this.#response.reader.consume(buf, off);
          this.#relay(buf, off, off + n);
          off += n;
          if (this.#response.reader.done) {
            this.#flushRun(buf);
            this.#responseDone();
          }
          continue;
        }
        const end = headEnd(buf, off);
        if (end < 0) break;
        const head = parseResponseHead(buf, off, end, ex.method);
        const from = off;
        off = end;
        if (head.status === 101) {
          if (!ex.upgrade) throw new Error('101 Switching Protocols without an upgrade request');
          this.#relay(buf, from, buf.length);
          this.#flushRun(buf);
          this.#startTunnel(ex);
          off = buf.length;
        } else if (head.status >= 200) {
          // Interim answers (100 Continue, 103) stay between proxy and upstream, as before.
          this.#relay(buf, from, end);
          ex.answered = true;
          this.hooks.stats.forwarded++;
          this.#response = { reader: new BodyReader(head.framing), status: head.status, keepAlive: head.keepAlive };
          if (this.#response.reader.done) {
            this.#flushRun(buf);
            this.#responseDone();
          }
        }
      }
    } catch (err) {
      this.#flushRun(buf);
      return this.#onUpstreamGone(s, err as Error);
    }
    this.#flushRun(buf);
    this.#upPending = off < buf.length && s === this.#upstream ? buf.subarray(off) : undefined;
    this.#resumeReading();
  }

  /** Bytes `buf[from, to)` go to the client: one write per contiguous run (usually a whole chunk of the upstream's). */
  #relay(buf: Buffer, from: number, to: number): void {
    if (from !== this.#runTo) this.#flushRun(buf);
    if (this.#runFrom === this.#runTo) this.#runFrom = from;
    this.#runTo = to;
  }

  /** Writes the run of `buf` relayed so far. */
  #flushRun(buf: Buffer): void {
    if (this.#runTo > this.#runFrom) this.client.write(buf.subarray(this.#runFrom, this.#runTo));
    this.#runFrom = this.#runTo = 0;
  }

  /** The front exchange's answer is complete. */
  #responseDone(): void {
    const ex = this.#queue.shift()!;
    const r = this.#response!;
    this.#response = undefined;
    ex.record.finish('FORWARDED', r.status);
    // A server's Connection: close (or an answer that ends with its connection) is passed on.
    if (!r.keepAlive || !ex.keepAlive) return this.#endClient();
    if (ex.upgrade) this.#awaitingUpgrade = false;
    this.#flushFront();
  }

  /** The upstream switched protocols (its answer and what followed it already relayed): bytes go both ways unread. */
  #startTunnel(ex: Exchange): void {
    this.#queue.shift();
    ex.record.finish('FORWARDED', 101);
    this.#tunnel = true;
    this.#awaitingUpgrade = false;
    clearTimeout(this.#headTimer);
    this.client.setTimeout(0);
    this.#upstream!.setTimeout(0);
    if (this.#pending) this.#upstream!.write(this.#pending);
    this.#pending = undefined;
  }

  /** The upstream connection ended or failed: answers still due fail (503 when none of theirs was sent). */
  #onUpstreamGone(s: net.Socket, err: Error | undefined): void {
    if (s !== this.#upstream) return;
    this.#upstream = this.#upPending = undefined;
    s.destroy();
    if (this.#tunnel) return void this.client.end();
    if (this.#response?.reader.framing.kind === 'close' && !err) return this.#responseDone();
    if (this.#bodyTo === s) this.#bodyTo = undefined;
    if (!this.#queue.some((e) => !e.local)) return;
    this.hooks.stats.upstreamErrors++;
    this.hooks.log.debug('http proxy upstream failed', { err: err?.message ?? 'closed' });
    if (this.#queue[0]!.answered) {
      this.#queue[0]!.record.finish('ERROR', 0);
      return void this.client.destroy();
    }
    this.#response = undefined;
    this.#awaitingUpgrade = false;
    for (const e of this.#queue) {
      if (e.local) continue;
      e.local = localAnswer(503, UPSTREAM_FAILED_BODY, e.keepAlive);
      e.continueDue = false;
      e.record.finish('ERROR', 0);
    }
    this.#flushFront();
    this.#resumeReading();
  }

  /** No more requests: what is written goes out, then the connection closes. */
  #endClient(): void {
    this.#ended = this.#lastRequest = true;
    this.#pending = undefined;
    this.#bodyDone();
    this.#queue.length = 0;
    clearTimeout(this.#headTimer);
    this.client.end();
    this.client.destroySoon();
    const up = this.#upstream;
    this.#upstream = undefined;
    if (up) this.hooks.closer.finished(up);
  }

  /** Reads a side only while the other keeps up, and the client only while few answers are due. */
  #flowControl(): void {
    const c = this.client, u = this.#upstream;
    const clientKeepsUp = c.writableLength < HIGH_WATER;
    if (u && clientKeepsUp === u.isPaused()) {
      if (clientKeepsUp) u.resume();
      else u.pause();
    }
    const readClient = clientKeepsUp && (!u || u.writableLength < HIGH_WATER) && this.#queue.length < MAX_PIPELINED
      && (this.#pending?.length ?? 0) <= MAX_HEAD_BYTES * 2;
    if (readClient === c.isPaused()) {
      if (readClient) c.resume();
      else c.pause();
    }
  }

  /** After answers went out or buffers drained: requests already received and not yet read are read. */
  #resumeReading(): void {
    this.#flowControl();
    if (this.#pending && !this.#reading && !this.#awaitingUpgrade && this.#queue.length < MAX_PIPELINED) this.#readRequests();
  }
}
