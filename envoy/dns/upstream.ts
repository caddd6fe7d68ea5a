/**
 * The DNS proxy's side towards DNS servers: one allowed query sent to the server it was meant for
 * and its answer read back, over UDP (a fresh socket per query, so answers are matched by socket
 * and message id) or TCP (a connection per query). A server that does not answer in time rejects
 * the promise; the proxy then answers SERVFAIL.
 */
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { dnsMessageId } from './message.ts';
import { DnsFrameReader, dnsFrame } from './tcp-framing.ts';

/** An address and port. */
export interface DnsPeer {
  readonly address: string;
  readonly port: number;
}

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

/** Sends one query over UDP and resolves with the server's answer (same id, from the server). */
export function exchangeUdp(query: Buffer, server: DnsPeer, timeoutMs: number): Promise<Buffer> {
  return oneAnswer(server, timeoutMs, (done) => {
    const socket = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
    const id = dnsMessageId(query);
    socket.on('error', (err) => done(err));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address === server.address && rinfo.port === server.port && dnsMessageId(msg) === id) done(undefined, msg);
    });
    socket.send(query, server.port, server.address, (err) => {
      if (err) done(err);
    });
    return () => socket.close();
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
