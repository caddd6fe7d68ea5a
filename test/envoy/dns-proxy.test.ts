// The DNS proxy on loopback with a test DNS server as the explicit upstream: rules.dns decide (via
// the policy engine's verdict for the endpoint → kube-dns packet), allowed queries get the server's
// answer over UDP and TCP, denied ones REFUSED without reaching the server, every query and answer
// is recorded with the deciding rule, the handler sees answers before the client, bad input is
// answered FORMERR and a silent server SERVFAIL.
import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { DnsRcode, DnsType, decodeDnsMessage, encodeDnsMessage, type DnsMessage } from '../../envoy/dns/message.ts';
import { type DnsExchange, DnsProxy, type DnsProxyRecord } from '../../envoy/dns/proxy.ts';
import { decideDnsQuery, dnsRulesMatch } from '../../envoy/dns/rules.ts';
import { DnsFrameReader, dnsFrame } from '../../envoy/dns/tcp-framing.ts';
import type { PolicyEngine } from '../../policy/engine.ts';
import { PROTOCOL_NUMBERS } from '../../policy/mapstate-types.ts';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { ID, engineWith } from '../policy/support/world.ts';

const DNS_POLICY = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: dns-rules }
spec:
  endpointSelector: { matchLabels: { kind: client } }
  egress:
  - toEndpoints: [{ matchLabels: { k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns } }]
    toPorts:
    - ports: [{ port: "53", protocol: ANY }]
      rules: { dns: [{ matchPattern: "*.allowed.example" }, { matchName: "exact.example" }] }
`;

function query(name: string, id: number): Buffer {
  return encodeDnsMessage({ id, rd: true, questions: [{ name, type: DnsType.A, class: 1 }] });
}

async function askUdp(port: number, msg: Buffer, source = '127.0.0.1'): Promise<DnsMessage> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => s.bind(0, source, resolve));
    const got = new Promise<Buffer>((resolve) => s.once('message', resolve));
    s.send(msg, port, '127.0.0.1');
    return decodeDnsMessage(await got);
  } finally {
    s.close();
  }
}

/** Sends every query on one TCP connection at once (pipelined) and reads as many answers. */
async function askTcp(port: number, msgs: Buffer[]): Promise<DnsMessage[]> {
  const sock = connect({ port, host: '127.0.0.1' });
  const frames = new DnsFrameReader();
  const out: DnsMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('data', (c) => {
      out.push(...frames.push(c).map(decodeDnsMessage));
      if (out.length === msgs.length) resolve();
    });
    sock.write(Buffer.concat(msgs.map(dnsFrame)));
  });
  sock.destroy();
  return out;
}

describe('DNS proxy', () => {
  let server: TestDnsServer;
  let proxy: DnsProxy;
  let engine: PolicyEngine;
  const records: DnsProxyRecord[] = [];
  const seen: string[] = [];
  /** Which endpoint each loopback source address is. */
  const endpointAt: Record<string, number> = { '127.0.0.1': ID.client };

  before(async () => {
    server = await startTestDnsServer({ 'www.allowed.example.': ['192.0.2.1', '192.0.2.2'], 'exact.example.': ['192.0.2.3'], 'other.example.': ['192.0.2.4'] });
    engine = engineWith([DNS_POLICY]);
    proxy = await DnsProxy.start({ host: '127.0.0.1', port: 0, upstream: server, timeoutMs: 2000 }, {
      decide: (x: DnsExchange, q) => decideDnsQuery(engine.verdict(endpointAt[x.source.address] ?? 0, {
        direction: 'egress', remoteIdentity: ID.kubeDns, protocol: x.protocol === 'udp' ? PROTOCOL_NUMBERS.UDP : PROTOCOL_NUMBERS.TCP, port: 53,
      }), q.questions[0]!.name),
      answered: (_x, _q, r) => { seen.push(...r.answers.flatMap((a) => a.address ?? [])); },
      record: (r) => records.push(r),
    });
  });
  after(() => {
    proxy?.close();
    server?.close();
  });
  beforeEach(() => {
    records.length = 0;
    server.asked.length = 0;
  });

  it('matches rules.dns with upstream semantics (case-insensitive, final dot optional)', () => {
    const rules = [{ matchPattern: '*.allowed.example' }, { matchName: 'exact.example' }];
    expect(['WWW.Allowed.Example.', 'x.allowed.example', 'exact.example.'].map((n) => dnsRulesMatch(rules, n))).to.deep.equal([true, true, true]);
    expect(['allowed.example.', 'a.b.allowed.example.', 'sub.exact.example.'].map((n) => dnsRulesMatch(rules, n))).to.deep.equal([false, false, false]);
    expect(dnsRulesMatch([{ matchPattern: '*' }], '.')).to.equal(true);
  });

  it('forwards an allowed UDP query and relays the answer after the handler saw it', async () => {
    const a = await askUdp(proxy.port, query('www.allowed.example.', 11));
    expect(a).to.deep.include({ id: 11, rcode: DnsRcode.NOERROR });
    expect(a.answers.map((r) => r.address)).to.deep.equal(['192.0.2.1', '192.0.2.2']);
    expect(seen).to.include.members(['192.0.2.1', '192.0.2.2']);
    expect(server.asked).to.deep.equal(['www.allowed.example.']);
    expect(records.map((r) => [r.type, r.decision.allowed, r.exchange.protocol])).to.deep.equal([['request', true, 'udp'], ['response', true, 'udp']]);
    expect(records[0]!.decision.origins.map((o) => o.name)).to.deep.equal(['dns-rules']);
    expect(records[1]!.response?.answers).to.have.length(2);
  });

  it('answers a denied name REFUSED without asking the server', async () => {
    const a = await askUdp(proxy.port, query('other.example.', 12));
    expect(a).to.deep.include({ id: 12, rcode: DnsRcode.REFUSED });
    expect(a.answers).to.deep.equal([]);
    expect(server.asked).to.deep.equal([]);
    expect(records.map((r) => [r.type, r.decision.allowed]), 'one record, as upstream').to.deep.equal([['request', false]]);
  });

  it('refuses every name for a source that is no endpoint (default deny)', async () => {
    const a = await askUdp(proxy.port, query('www.allowed.example.', 13), '127.0.0.2');
    expect(a.rcode).to.equal(DnsRcode.REFUSED);
    expect(records[0]!.decision).to.deep.equal({ allowed: false, origins: [] });
  });

  it('serves pipelined TCP queries on one connection, allowed and denied', async () => {
    const answers = await askTcp(proxy.port, [query('exact.example.', 21), query('other.example.', 22), query('www.allowed.example.', 23)]);
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get(21)?.answers.map((r) => r.address)).to.deep.equal(['192.0.2.3']);
    expect(byId.get(22)?.rcode).to.equal(DnsRcode.REFUSED);
    expect(byId.get(23)?.answers).to.have.length(2);
    expect(server.asked.sort()).to.deep.equal(['exact.example.', 'www.allowed.example.']);
  });

  it('answers a malformed query FORMERR, ignores a message without a header, and keeps serving', async () => {
    const bad = Buffer.concat([query('x.allowed.example.', 31).subarray(0, 12), Buffer.from([60, 1, 2])]);
    expect((await askUdp(proxy.port, bad)).rcode).to.equal(DnsRcode.FORMERR);
    const s = createSocket('udp4');
    s.send(Buffer.from([1, 2, 3]), proxy.port, '127.0.0.1', () => s.close());
    expect((await askUdp(proxy.port, query('exact.example.', 32))).rcode).to.equal(DnsRcode.NOERROR);
  });

  it('a port taken on UDP fails the start and leaves TCP free, so a later start gets the port', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    const port = taken.address().port;
    const decide = () => ({ allowed: true, origins: [] });
    try {
      await DnsProxy.start({ host: '127.0.0.1', port }, { decide }).then(() => expect.fail('started on a taken port'), (err: Error) => expect(err.message).to.match(/EADDRINUSE/));
    } finally {
      taken.close();
    }
    const again = await DnsProxy.start({ host: '127.0.0.1', port }, { decide });
    expect(again.port).to.equal(port);
    again.close();
  });

  it('answers SERVFAIL when the server does not answer', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const lonely = await DnsProxy.start({ host: '127.0.0.1', port: 0, upstream: { address: '127.0.0.1', port: silent.address().port }, timeoutMs: 200 }, {
      decide: () => ({ allowed: true, origins: [] }),
    });
    try {
      expect((await askUdp(lonely.port, query('exact.example.', 41))).rcode).to.equal(DnsRcode.SERVFAIL);
    } finally {
      lonely.close();
      silent.close();
    }
  });
});
