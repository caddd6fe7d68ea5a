// The DNS codec: queries and answers decoded (compressed names, A/AAAA/CNAME data, every section),
// the proxy's own answers encoded, and malformed input rejected with the field that failed.
import { expect } from 'chai';
import { DnsFormatError, DnsRcode, DnsType, decodeDnsMessage, dnsTypeName, encodeDnsMessage, rcodeResponse } from '../../envoy/dns/message.ts';
import { DnsFrameReader, dnsFrame } from '../../envoy/dns/tcp-framing.ts';

/** A query for `name` as dig sends it (recursion desired). */
function query(name: string, type: number = DnsType.A, id = 0x1234): Buffer {
  return encodeDnsMessage({ id, rd: true, questions: [{ name, type, class: 1 }] });
}

describe('DNS messages', () => {
  it('round-trips a query and an answer with A, AAAA and CNAME records', () => {
    const q = decodeDnsMessage(query('Www.Example.com.'));
    expect(q).to.deep.include({ id: 0x1234, qr: false, rd: true, opcode: 0, rcode: 0 });
    expect(q.questions).to.deep.equal([{ name: 'Www.Example.com.', type: DnsType.A, class: 1 }]);
    const raw = encodeDnsMessage({
      id: 7, qr: true, ra: true, rd: true, questions: q.questions,
      answers: [
        { name: 'www.example.com.', type: DnsType.CNAME, ttl: 300, target: 'web.example.com.' },
        { name: 'web.example.com.', type: DnsType.A, ttl: 60, address: '192.0.2.10' },
        { name: 'web.example.com.', type: DnsType.AAAA, ttl: 60, address: '2001:db8::a' },
      ],
    });
    const a = decodeDnsMessage(raw);
    expect(a).to.deep.include({ id: 7, qr: true, ra: true, rcode: 0 });
    expect(a.answers.map((r) => [r.type, r.ttl, r.address ?? r.target])).to.deep.equal([
      [DnsType.CNAME, 300, 'web.example.com.'], [DnsType.A, 60, '192.0.2.10'], [DnsType.AAAA, 60, '2001:db8::a'],
    ]);
  });

  it('follows compression pointers (as real servers write names) and refuses pointer loops', () => {
    // Header, question www.example.com A IN, answer named by a pointer to offset 12 with A 10.0.0.1.
    const header = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const qname = Buffer.from([3, 0x77, 0x77, 0x77, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0]);
    const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);
    const msg = decodeDnsMessage(Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1]), answer]));
    expect(msg.answers[0]).to.deep.include({ name: 'www.example.com.', address: '10.0.0.1', ttl: 30 });
    const loop = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    expect(() => decodeDnsMessage(loop)).to.throw(DnsFormatError, /question\[0\]\.name: compression pointer loop/);
  });

  it('names the malformed field: short header, truncated question, record data past the end', () => {
    expect(() => decodeDnsMessage(Buffer.alloc(5))).to.throw(DnsFormatError, /header/);
    expect(() => decodeDnsMessage(query('a.example.').subarray(0, 20))).to.throw(DnsFormatError, /question\[0\]/);
    const ok = encodeDnsMessage({ id: 1, qr: true, answers: [{ name: 'a.', type: DnsType.A, ttl: 1, address: '10.0.0.1' }] });
    expect(() => decodeDnsMessage(ok.subarray(0, ok.length - 2))).to.throw(DnsFormatError, /answer\[0\]\.rdata/);
    expect(() => encodeDnsMessage({ questions: [{ name: `${'x'.repeat(64)}.example.`, type: 1, class: 1 }] })).to.throw(/question\[0\]\.name/);
  });

  it('makes REFUSED from a query: same id, question and opcode, response bit, no records', () => {
    const q = decodeDnsMessage(query('blocked.example.', DnsType.AAAA, 99));
    const r = decodeDnsMessage(rcodeResponse(q, DnsRcode.REFUSED));
    expect(r).to.deep.include({ id: 99, qr: true, rcode: DnsRcode.REFUSED, rd: true });
    expect(r.questions).to.deep.equal(q.questions);
    expect(r.answers).to.deep.equal([]);
    expect([dnsTypeName(DnsType.AAAA), dnsTypeName(65)]).to.deep.equal(['AAAA', 'TYPE65']);
  });

  it('frames TCP messages: split and pipelined input gives whole messages in order', () => {
    const a = query('a.example.', DnsType.A, 1), b = query('b.example.', DnsType.A, 2);
    const stream = Buffer.concat([dnsFrame(a), dnsFrame(b)]);
    const reader = new DnsFrameReader();
    expect(reader.push(stream.subarray(0, 1))).to.deep.equal([]);
    expect(reader.push(stream.subarray(1, a.length + 3)).map((m) => m.readUInt16BE(0))).to.deep.equal([1]);
    expect(reader.push(stream.subarray(a.length + 3)).map((m) => m.readUInt16BE(0))).to.deep.equal([2]);
    expect(reader.buffered).to.equal(0);
  });
});
