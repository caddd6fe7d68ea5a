// The DNS proxy's shared UDP sockets towards servers (envoy/dns/upstream.ts) on loopback: queries
// to one server share a socket under ids the proxy picks, answers go back under the client's id,
// answers from another address, to other questions or to unknown ids are ignored (the question's
// case may differ), a worn-out socket gives way to a new
// one (a new source port), and a server that refuses or stays silent fails its queries.
import { expect } from 'chai';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { DnsType, decodeDnsMessage, encodeDnsMessage } from '../../envoy/dns/message.ts';
import { UdpUpstreams } from '../../envoy/dns/upstream.ts';

function query(name: string, id: number): Buffer {
  return encodeDnsMessage({ id, rd: true, questions: [{ name, type: DnsType.A, class: 1 }] });
}

/** The answer to `q`: one A record 192.0.2.<n>, for the question asked or `otherName`. */
function answer(q: Buffer, n: number, otherName?: string): Buffer {
  const m = decodeDnsMessage(q);
  const name = otherName ?? m.questions[0]!.name;
  return encodeDnsMessage({
    id: m.id, qr: true, rcode: 0, questions: [{ ...m.questions[0]!, name }],
    answers: [{ name, type: DnsType.A, ttl: 30, address: `192.0.2.${n}` }],
  });
}

/** A UDP server on loopback whose replies `respond` writes; it records each query's id and source port. */
async function server(respond: (q: Buffer, send: (b: Buffer) => void, seen: number, from: RemoteInfo) => void): Promise<{ address: string; port: number; socket: Socket; ids: number[]; ports: Set<number> }> {
  const socket = createSocket('udp4');
  const ids: number[] = [];
  const ports = new Set<number>();
  socket.on('message', (msg, r: RemoteInfo) => {
    ids.push(msg.readUInt16BE(0));
    ports.add(r.port);
    respond(msg, (b) => socket.send(b, r.port, r.address), ids.length, r);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { address: '127.0.0.1', port: socket.address().port, socket, ids, ports };
}

describe('DNS proxy upstream sockets (UDP, shared)', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  it('carries concurrent queries with the same client id on one socket and answers each under that id', async () => {
    const s = await server((q, send, n) => send(answer(q, n)));
    const up = new UdpUpstreams();
    closers.push(() => s.socket.close(), () => up.close());
    const names = Array.from({ length: 20 }, (_, i) => `n${i}.example.`);
    const answers = (await Promise.all(names.map((n) => up.exchange(query(n, 7), s, 2000)))).map(decodeDnsMessage);
    expect(answers.map((a) => a.id)).to.deep.equal(names.map(() => 7));
    expect(answers.map((a) => a.questions[0]!.name)).to.deep.equal(names);
    expect(new Set(s.ids).size, 'the proxy\'s ids are distinct').to.equal(20);
    expect(s.ports.size).to.equal(1);
    expect(up.sockets).to.equal(1);
  });

  it('ignores answers from elsewhere, to another question or to no outstanding id, and takes the right one', async () => {
    const intruder = createSocket('udp4');
    closers.push(() => intruder.close());
    const s = await server((q, send, n, from) => {
      intruder.send(answer(q, 97), from.port, from.address);
      const wrongId = Buffer.from(answer(q, 99));
      wrongId.writeUInt16BE((q.readUInt16BE(0) + 1) & 0xffff, 0);
      send(wrongId);
      send(answer(q, 98, 'forged.example.'));
      setTimeout(() => send(answer(q, n, 'real.example.')), 20);
    });
    const up = new UdpUpstreams();
    closers.push(() => s.socket.close(), () => up.close());
    const a = decodeDnsMessage(await up.exchange(query('Real.Example.', 5), s, 2000));
    expect(a.id).to.equal(5);
    expect(a.answers.map((r) => r.address)).to.deep.equal(['192.0.2.1']);
  });

  it('a worn-out socket gives way to a new source port and closes once answered', async () => {
    const s = await server((q, send, n) => send(answer(q, n)));
    const up = new UdpUpstreams({ maxQueries: 3 });
    closers.push(() => s.socket.close(), () => up.close());
    for (let i = 0; i < 7; i++) await up.exchange(query(`q${i}.example.`, i), s, 2000);
    expect(s.ports.size).to.equal(3);
    expect(up.sockets, 'only the current socket stays').to.equal(1);
  });

  it('fails a query the server does not answer, and one to a closed port', async () => {
    const silent = await server(() => undefined);
    const up = new UdpUpstreams();
    closers.push(() => silent.socket.close(), () => up.close());
    const err = await up.exchange(query('x.example.', 1), silent, 100).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/no answer from 127\.0\.0\.1:\d+ within 100 ms/);
    const gone = await server(() => undefined);
    const port = gone.port;
    gone.socket.close();
    const refused = await up.exchange(query('y.example.', 2), { address: '127.0.0.1', port }, 100).then(() => undefined, (e: Error) => e);
    expect(refused?.message).to.match(/no answer/);
    expect(() => new UdpUpstreams({ maxOutstanding: 0 })).to.throw(/maxOutstanding must be a positive integer/);
  });
});
