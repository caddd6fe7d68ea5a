/**
 * A small authoritative DNS server for tests, on UDP and TCP of one loopback port: answers A
 * queries from a table (name → addresses and TTL), NXDOMAIN for other names, and counts queries.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { DnsRcode, DnsType, decodeDnsMessage, encodeDnsMessage } from '../../envoy/dns/message.ts';
import { DnsFrameReader, dnsFrame } from '../../envoy/dns/tcp-framing.ts';

/** A running test server. */
export interface TestDnsServer {
  readonly address: string;
  readonly port: number;
  /** Names asked, in order (lower case, final dot). */
  readonly asked: string[];
  close(): void;
}

/** Starts a server answering `zone` (name with final dot → A addresses) with `ttl`. */
export async function startTestDnsServer(zone: Record<string, string[]>, ttl = 30, address = '127.0.0.1'): Promise<TestDnsServer> {
  const asked: string[] = [];
  const answer = (msg: Buffer): Buffer => {
    const q = decodeDnsMessage(msg);
    const question = q.questions[0]!;
    const name = question.name.toLowerCase();
    asked.push(name);
    const ips = zone[name];
    const answers = question.type === DnsType.A ? (ips ?? []).map((ip) => ({ name: question.name, type: DnsType.A, ttl, address: ip })) : [];
    return encodeDnsMessage({ id: q.id, qr: true, aa: true, rd: q.rd, ra: false, rcode: ips ? DnsRcode.NOERROR : DnsRcode.NXDOMAIN, questions: q.questions, answers });
  };
  const tcp = createServer((socket) => {
    const frames = new DnsFrameReader();
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => { for (const m of frames.push(chunk)) socket.write(dnsFrame(answer(m))); });
  });
  await new Promise<void>((resolve) => tcp.listen(0, address, resolve));
  const port = (tcp.address() as { port: number }).port;
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(answer(msg), rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => udp.bind(port, address, resolve));
  return { address, port, asked, close: () => { tcp.close(); udp.close(); } };
}
