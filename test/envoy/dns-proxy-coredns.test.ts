// The agent's DNS proxy against a real DNS server: CoreDNS in a namespace of its own, reached over a
// veth from a "node" namespace where the test runs the proxy, the client and the policy feed with a
// real endpoint program (BPF_PROG_TEST_RUN). No transparent redirect is involved: the client sends
// to the proxy's port and the proxy's explicit upstream is CoreDNS, whose address the ipcache gives
// the kube-dns identity. Proves: rules.dns allow and REFUSED over UDP and TCP; answers select the
// addresses for toFQDNs before the client sees them, and stop after the TTL; DNS L7 flows in the
// Hubble ring with the deciding rule, findable by dns_query.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentDnsProxy } from '../../agent/dns-proxy.ts';
import type { EndpointEnforcer } from '../../agent/endpoint-enforcer.ts';
import { builtToolchain } from '../../cluster/toolchain.ts';
import { DnsRcode, DnsType, decodeDnsMessage, encodeDnsMessage, type DnsMessage } from '../../envoy/dns/message.ts';
import { DnsFrameReader, dnsFrame } from '../../envoy/dns/tcp-framing.ts';
import { compileFilters } from '../../hubble/filters.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { sanitizePodLabels } from '../../identity/pod-labels.ts';
import { createLogger } from '../../runtime/logger.ts';
import { bpfSkipReason } from '../datapath/support/env.ts';
import { enterNetns, makeNamespaces, sh, uniqueSuffix } from '../datapath/support/netns.ts';
import { FeedHarness, WORLD } from '../agent/support/feed-harness.ts';

const NODE_IP = '10.254.17.1';
const DNS_IP = '10.254.17.2';
const KUBE_DNS_ID = 40001;
const CLIENT_IP = '127.0.0.1';
const T0 = 1_700_000_000_000;

const COREFILE = `.:53 {
  bind ${DNS_IP}
  hosts {
    198.51.100.20 api.example.com
    198.51.100.21 www.example.com
    198.51.100.22 blocked.test
    ttl 30
  }
}
`;

const cnp = (name: string, egress: object[]) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'default', uid: `u-${name}` },
  spec: { endpointSelector: { matchLabels: { app: WORLD.self.app } }, egress },
});

function query(name: string, id: number): Buffer {
  return encodeDnsMessage({ id, rd: true, questions: [{ name, type: DnsType.A, class: 1 }] });
}

function askUdp(to: { address: string; port: number }, msg: Buffer, timeoutMs = 3000, source = CLIENT_IP): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => { s.close(); reject(new Error(`no answer from ${to.address}:${to.port}`)); }, timeoutMs);
    s.on('message', (m) => { clearTimeout(timer); s.close(); resolve(decodeDnsMessage(m)); });
    s.bind(0, source, () => s.send(msg, to.port, to.address));
  });
}

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
  let coredns: ChildProcess | undefined;
  let dir: string | undefined;
  let h: FeedHarness;
  const ring = new FlowRing(255);
  const stop = new AbortController();
  const clock = T0;
  let proxyPort = 0;

  before(async function () {
    const skip = bpfSkipReason();
    const bin = await builtToolchain('coredns');
    if (skip || !bin) this.skip();
    destroyNs = makeNamespaces([nodeNs, dnsNs]);
    sh('ip', '-n', nodeNs, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', dnsNs, 'link', 'set', 'lo', 'up');
    sh('ip', 'link', 'add', `h17d${suffix}n`.slice(0, 15), 'netns', nodeNs, 'type', 'veth', 'peer', 'name', `h17d${suffix}d`.slice(0, 15), 'netns', dnsNs);
    sh('ip', '-n', nodeNs, 'addr', 'add', `${NODE_IP}/30`, 'dev', `h17d${suffix}n`.slice(0, 15));
    sh('ip', '-n', dnsNs, 'addr', 'add', `${DNS_IP}/30`, 'dev', `h17d${suffix}d`.slice(0, 15));
    sh('ip', '-n', nodeNs, 'link', 'set', `h17d${suffix}n`.slice(0, 15), 'up');
    sh('ip', '-n', dnsNs, 'link', 'set', `h17d${suffix}d`.slice(0, 15), 'up');
    dir = mkdtempSync(join(tmpdir(), 'h17d-coredns-'));
    writeFileSync(join(dir, 'Corefile'), COREFILE);
    coredns = spawn('nsenter', [`--net=/run/netns/${dnsNs}`, join(bin!, 'coredns'), '-conf', join(dir, 'Corefile')], { stdio: 'ignore' });
    leave = enterNetns(`/run/netns/${nodeNs}`);
    // CoreDNS answers once it is up.
    for (let i = 0; ; i++) {
      try {
        await askUdp({ address: DNS_IP, port: 53 }, query('api.example.com.', 1), 300, NODE_IP);
        break;
      } catch (err) {
        if (i > 40) throw err;
      }
    }
    h = new FeedHarness();
    h.engine.updateIdentities([[KUBE_DNS_ID, sanitizePodLabels({ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } })]]);
    h.ipcache.upsert('endpoint', DNS_IP, { identity: KUBE_DNS_ID });
    h.apply(cnp('dns', [{
      toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
      toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*.example.com' }] } }],
    }]));
    h.apply(cnp('api', [{ toFQDNs: [{ matchName: 'api.example.com' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }]));
    const endpoint = { id: h.endpointId, identity: WORLD.self.identity, request: { ip: CLIENT_IP, podNamespace: 'default', podName: 'client', key: 'k' }, policy: h.policyMap };
    const enforcer = { endpoints: () => [endpoint], ipcache: h.ipcache } as unknown as Pick<EndpointEnforcer, 'endpoints'> & { ipcache: FeedHarness['ipcache'] };
    const runnable = agentDnsProxy({
      port: 0, host: CLIENT_IP, upstream: { address: DNS_IP, port: 53 }, engine: h.engine, feed: h.feed, enforcer,
      nodeName: 'node-a', log: createLogger({ level: 'error' }), gcIntervalMs: 3_600_000, now: () => clock,
      hubble: {
        ring,
        ends: {
          nodeName: 'node-a', clusterName: 'default', localEndpoints: () => [endpoint] as never,
          podAt: () => undefined, labelsOf: (id) => h.engine.selectorCache.identityLabels(id)?.toStrings() ?? [],
        },
      },
    });
    void runnable.start(stop.signal);
    while (!runnable.proxy()) await new Promise((r) => setTimeout(r, 10));
    proxyPort = runnable.proxy()!.port;
  });

  after(() => {
    stop.abort();
    h?.close();
    leave?.();
    coredns?.kill('SIGKILL');
    destroyNs?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const flows = (): Flow[] => ring.snapshot();

  it('relays CoreDNS answers for allowed names over UDP and TCP, and egress to the answered address is allowed at once', async () => {
    expect(h.probe('egress', '198.51.100.20', 443), 'before any answer').to.equal('denied');
    const a = await askUdp({ address: CLIENT_IP, port: proxyPort }, query('api.example.com.', 7));
    expect(a).to.deep.include({ id: 7, rcode: DnsRcode.NOERROR });
    expect(a.answers.map((r) => [r.address, r.ttl])).to.deep.equal([['198.51.100.20', 30]]);
    expect(h.probe('egress', '198.51.100.20', 443), 'selected by toFQDNs matchName').to.equal('allowed');
    const t = await askTcp(proxyPort, query('www.example.com.', 8));
    expect(t.answers.map((r) => r.address)).to.deep.equal(['198.51.100.21']);
    expect(h.probe('egress', '198.51.100.21', 443), 'no toFQDNs selects www').to.equal('denied');
  });

  it('answers a name rules.dns does not allow REFUSED', async () => {
    const a = await askUdp({ address: CLIENT_IP, port: proxyPort }, query('blocked.test.', 9));
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
    expect(blocked.map((f) => [f.l7?.type, f.verdict])).to.deep.equal([['REQUEST', 'DROPPED'], ['RESPONSE', 'DROPPED']]);
    expect(blocked[1]!.l7?.dns?.rcode).to.equal(DnsRcode.REFUSED);
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
