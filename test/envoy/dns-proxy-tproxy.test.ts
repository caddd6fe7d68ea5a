// The DNS proxy behind a transparent redirect, UDP: a client namespace sends to CoreDNS's address in
// another namespace through a "node" namespace whose TPROXY rule (as the node's redirect installs it
// for datapath-marked packets; here for the client's UDP port 53) hands the datagrams to the proxy's
// transparent socket. The proxy learns each query's original destination from the socket, decides
// with the client endpoint's policy toward that server, forwards to it and answers from its address:
// busybox nslookup in the client namespace sees CoreDNS answer, or REFUSED.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { FlowRing } from '../../hubble/ring.ts';
import { bpfSkipReason } from '../datapath/support/env.ts';
import { enterNetns, makeNamespaces, nsExec, sh, uniqueSuffix } from '../datapath/support/netns.ts';
import { coreDnsBuilt, startCoreDns, waitForDns, type TestCoreDns } from '../support/coredns.ts';
import { type DnsWorld, HOSTS, KUBE_DNS_ID, startDnsWorld, vethPair } from './support/dns-world.ts';

const CLIENT_IP = '10.254.18.2', NODE_CLIENT_SIDE = '10.254.18.1';
const DNS_IP = '10.254.19.2', NODE_DNS_SIDE = '10.254.19.1';
const PROXY_PORT = 15053;

/** busybox nslookup in a namespace (asynchronously: the proxy answers in this process). */
function nslookup(ns: string, name: string, server: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile('nsenter', [`--net=/run/netns/${ns}`, 'busybox', 'nslookup', name, server], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}` }));
  });
}

describe('DNS proxy behind TPROXY (transparent UDP, original destination)', function () {
  const suffix = uniqueSuffix();
  const clientNs = `h17d-cl-${suffix}`, nodeNs = `h17d-nd-${suffix}`, dnsNs = `h17d-dn-${suffix}`;
  let destroyNs: (() => void) | undefined;
  let leave: (() => void) | undefined;
  let coredns: TestCoreDns | undefined;
  let world: DnsWorld | undefined;

  before(async function () {
    const bin = await coreDnsBuilt();
    if (bpfSkipReason() || !bin) this.skip();
    destroyNs = makeNamespaces([clientNs, nodeNs, dnsNs]);
    vethPair(`h17c${suffix}`, clientNs, CLIENT_IP, nodeNs, NODE_CLIENT_SIDE);
    vethPair(`h17s${suffix}`, dnsNs, DNS_IP, nodeNs, NODE_DNS_SIDE);
    sh('ip', '-n', clientNs, 'route', 'add', '10.254.19.0/24', 'via', NODE_CLIENT_SIDE);
    sh('ip', '-n', dnsNs, 'route', 'add', '10.254.18.0/24', 'via', NODE_DNS_SIDE);
    nsExec(nodeNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    // The node's redirect: marked packets are local (table 2004) and TPROXY gives them to the proxy port.
    nsExec(nodeNs, 'ip', 'rule', 'add', 'fwmark', '0x200/0xf00', 'lookup', '2004', 'pref', '9');
    nsExec(nodeNs, 'ip', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '2004');
    nsExec(nodeNs, 'iptables', '-w', '-t', 'mangle', '-A', 'PREROUTING', '-i', `h17c${suffix}b`.slice(0, 15), '-p', 'udp', '--dport', '53',
      '-j', 'TPROXY', '--on-port', String(PROXY_PORT), '--on-ip', '0.0.0.0', '--tproxy-mark', '0x200/0xf00');
    coredns = startCoreDns(bin!, dnsNs, DNS_IP, HOSTS, 30);
    leave = enterNetns(`/run/netns/${nodeNs}`);
    await waitForDns(DNS_IP, 'api.example.com.');
    // As the agent runs it: a transparent UDP socket on the proxy port, no explicit upstream.
    world = await startDnsWorld({ clientIp: CLIENT_IP, dnsIp: DNS_IP, port: PROXY_PORT, transparentUdp: true });
  });

  after(() => {
    world?.close();
    leave?.();
    coredns?.stop();
    destroyNs?.();
  });

  it('answers an allowed name with CoreDNS\'s answer, from CoreDNS\'s address, and selects it for toFQDNs', async () => {
    expect(world!.h.probe('egress', '198.51.100.20', 443)).to.equal('denied');
    const r = await nslookup(clientNs, 'api.example.com', DNS_IP);
    expect(r.ok, r.out).to.equal(true);
    expect(r.out).to.match(/Address:\s+198\.51\.100\.20/);
    expect(world!.h.probe('egress', '198.51.100.20', 443)).to.equal('allowed');
  });

  it('answers a name rules.dns does not allow REFUSED', async () => {
    const r = await nslookup(clientNs, 'blocked.test', DNS_IP);
    expect(r.out).to.match(/REFUSED/i);
    expect(r.out).to.not.match(/198\.51\.100\.22/);
  });

  it('the flows carry the original destination: the client and CoreDNS, not the proxy', () => {
    const flows = (world!.ring as FlowRing).snapshot().filter((f) => f.l7?.dns?.query === 'api.example.com.');
    expect(flows.length).to.be.greaterThan(0);
    expect(flows[0]).to.deep.include({ IP: { source: CLIENT_IP, destination: DNS_IP, ipVersion: 'IPv4' } });
    expect(flows[0]!.destination.identity).to.equal(KUBE_DNS_ID);
    expect(flows[0]!.l4).to.deep.include({ UDP: { source_port: flows[0]!.l4!.UDP!.source_port, destination_port: 53 } });
  });
});
