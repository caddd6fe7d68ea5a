// The agent's DNS proxy against a real DNS server: CoreDNS in a namespace of its own, reached over a
// veth from a "node" namespace where the test runs the proxy, the client and the policy feed with a
// real endpoint program (BPF_PROG_TEST_RUN). No transparent redirect is involved: the client sends
// to the proxy's port and the proxy's explicit upstream is CoreDNS, whose address the ipcache gives
// the kube-dns identity. Proves: rules.dns allow and REFUSED over UDP and TCP; answers select the
// addresses for toFQDNs before the client sees them, and stop after the TTL; DNS L7 flows in the
// Hubble ring with the deciding rule, findable by dns_query.
import { expect } from 'chai';
import { connect } from 'node:net';
import { DnsRcode, decodeDnsMessage, type DnsMessage } from '../../envoy/dns/message.ts';
import { DnsFrameReader, dnsFrame } from '../../envoy/dns/tcp-framing.ts';
import { compileFilters } from '../../hubble/filters.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { bpfSkipReason } from '../datapath/support/env.ts';
import { aQuery, askUdp, coreDnsBuilt, startCoreDns, waitForDns, type TestCoreDns } from '../support/coredns.ts';
import { enterNetns, makeNamespaces, uniqueSuffix } from '../datapath/support/netns.ts';
import type { FeedHarness } from '../agent/support/feed-harness.ts';
import { WORLD } from '../agent/support/feed-harness.ts';
import { type DnsWorld, HOSTS, KUBE_DNS_ID, T0, startDnsWorld, vethPair } from './support/dns-world.ts';

const NODE_IP = '10.254.17.1';
const DNS_IP = '10.254.17.2';
const CLIENT_IP = '127.0.0.1';

function askTcp(port: number, msg: Buffer): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: CLIENT_IP, port, localAddress: CLIENT_IP });
    const frames = new DnsFrameReader();
    sock.on('error', reject);
    sock.on('data', (c) => {
      const [m] = frames.push(c);
      if (m) { sock.destroy(); resolve(decodeDnsMessage(m)); }
    });
    sock.write(dnsFrame(msg));
  });
}

describe('DNS proxy with CoreDNS in a namespace (toFQDNs, REFUSED, L7 flows)', function () {
  const suffix = uniqueSuffix();
  const nodeNs = `h17d-node-${suffix}`, dnsNs = `h17d-dns-${suffix}`;
  let destroyNs: (() => void) | undefined;
  let leave: (() => void) | undefined;
  let coredns: TestCoreDns | undefined;
  let world: DnsWorld;
  let h: FeedHarness, ring: FlowRing, proxyPort: number;

  before(async function () {
    const bin = await coreDnsBuilt();
    if (bpfSkipReason() || !bin) this.skip();
    destroyNs = makeNamespaces([nodeNs, dnsNs]);
    vethPair(`h17d${suffix}`, nodeNs, NODE_IP, dnsNs, DNS_IP);
    coredns = startCoreDns(bin!, dnsNs, DNS_IP, HOSTS, 30);
    leave = enterNetns(`/run/netns/${nodeNs}`);
    await waitForDns(DNS_IP, 'api.example.com.');
    world = await startDnsWorld({ clientIp: CLIENT_IP, dnsIp: DNS_IP, port: 0, host: CLIENT_IP, upstream: { address: DNS_IP, port: 53 } });
    ({ h, ring, port: proxyPort } = world);
  });

  after(() => {
    world?.close();
    leave?.();
    coredns?.stop();
    destroyNs?.();
  });

  const flows = (): Flow[] => ring.snapshot();

  it('relays CoreDNS answers for allowed names over UDP and TCP, and egress to the answered address is allowed at once', async () => {
    expect(h.probe('egress', '198.51.100.20', 443), 'before any answer').to.equal('denied');
    const a = await askUdp({ address: CLIENT_IP, port: proxyPort }, aQuery('api.example.com.', 7), CLIENT_IP);
    expect(a).to.deep.include({ id: 7, rcode: DnsRcode.NOERROR });
    expect(a.answers.map((r) => [r.address, r.ttl])).to.deep.equal([['198.51.100.20', 30]]);
    expect(h.probe('egress', '198.51.100.20', 443), 'selected by toFQDNs matchName').to.equal('allowed');
    const t = await askTcp(proxyPort, aQuery('www.example.com.', 8));
    expect(t.answers.map((r) => r.address)).to.deep.equal(['198.51.100.21']);
    expect(h.probe('egress', '198.51.100.21', 443), 'no toFQDNs selects www').to.equal('denied');
  });

  it('answers a name rules.dns does not allow REFUSED', async () => {
    const a = await askUdp({ address: CLIENT_IP, port: proxyPort }, aQuery('blocked.test.', 9), CLIENT_IP);
    expect(a).to.deep.include({ id: 9, rcode: DnsRcode.REFUSED });
    expect(a.answers).to.deep.equal([]);
    expect(h.probe('egress', '198.51.100.22', 443)).to.equal('denied');
  });

  it('records every query and answer as an L7 DNS flow with the deciding rule', () => {
    const all = flows();
    const api = all.filter(compileFilters([{ dns_query: ['^api\\.example'] }]));
    expect(api.map((f) => [f.l7?.type, f.verdict, f.IP.source, f.IP.destination])).to.deep.equal([
      ['REQUEST', 'FORWARDED', CLIENT_IP, DNS_IP], ['RESPONSE', 'FORWARDED', DNS_IP, CLIENT_IP],
    ]);
    expect(api[1]!.l7?.dns).to.deep.include({ query: 'api.example.com.', ips: ['198.51.100.20'], ttl: 30, rcode: 0, qtypes: ['A'], rrtypes: ['A'] });
    expect(api[1]).to.deep.include({ Type: 'L7', event_type: { type: 129, sub_type: 0 }, is_reply: { value: true }, proxy_port: proxyPort });
    expect(api[0]!.egress_allowed_by?.map((p) => p.name)).to.deep.equal(['dns']);
    expect(api[0]!.source).to.deep.include({ identity: WORLD.self.identity, pod_name: 'client' });
    expect(api[0]!.destination.identity).to.equal(KUBE_DNS_ID);
    const blocked = all.filter(compileFilters([{ dns_query: ['blocked'] }]));
    expect(blocked.map((f) => [f.l7?.type, f.verdict]), 'a denied query is one flow, as upstream').to.deep.equal([['REQUEST', 'DROPPED']]);
    expect(blocked[0]!.egress_denied_by?.map((p) => p.name)).to.deep.equal(['dns']);
    expect(all.filter(compileFilters([{ protocol: ['dns'] }]))).to.have.length(all.length);
    expect(all.find((f) => f.l4?.TCP)?.l7?.dns?.query).to.equal('www.example.com.');
  });

  it('stops egress to the address once its TTL ran out at a garbage collection', () => {
    h.feed.fqdnGc(T0 + 29_000);
    expect(h.probe('egress', '198.51.100.20', 443)).to.equal('allowed');
    h.feed.fqdnGc(T0 + 31_000);
    expect(h.probe('egress', '198.51.100.20', 443)).to.equal('denied');
    expect(h.ipcacheRows().has('198.51.100.20/32')).to.equal(false);
  });
});
