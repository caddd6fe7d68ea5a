// DNS policy and toFQDNs on the shared two-node cluster of real (kubelet) nodes, through the running
// agent's DNS proxy behind the datapath's transparent redirect. "Outside the cluster" is a network
// namespace the test makes, joined to the first node by a veth pair, with routes back to exactly
// that node and no default route: a CoreDNS there answers web.example, other.example and
// blocked.test, and a TCP listener serves their addresses. A busybox client pod on the first node
// may ask that server for *.example names (rules.dns) and reach what web.example resolves to
// (toFQDNs) on one port. The client's DNS packets are redirected to the proxy by its policy entry;
// nothing in the pod is configured for it. The server's answers live TTL_SECONDS: once that ran out
// and the agent's next FQDN garbage collection (every minute, as upstream) ran, egress to the
// address stops and its ipcache entry goes.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import { hubbleSocketPath } from '../../cluster/agent-launch.ts';
import { nodePinRoot, type NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { IPCACHE_CODECS, ipcacheKeyCidr } from '../../datapath/maps/ipcache.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { IDENTITY_SCOPE_LOCAL } from '../../identity/numeric.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { coreDnsBuilt, startCoreDns, type TestCoreDns } from '../support/coredns.ts';
import { ensureHubbleCli, hubble, jsonLines } from '../support/hubble-cli.ts';
import { BUSYBOX } from '../support/hubble-pods.ts';

const uniq = Math.random().toString(36).slice(2, 6);
const NS = `fqdn-${uniq}`;
const OUTSIDE_NETNS = `fqdn-out-${uniq}`;
/** Outside addresses (RFC 5737 TEST-NET-1). */
const DNS_SERVER = '192.0.2.53', WEB = '192.0.2.80', OTHER = '192.0.2.81', BLOCKED = '192.0.2.82';
const WEB_PORT = 8080;
/** The TTL of the server's answers: short, so that the expiry case waits about one garbage collection. */
const TTL_SECONDS = 5;
/** The agent's FQDN garbage collection interval (upstream's, agent/dns-proxy.ts). */
const FQDN_GC_SECONDS = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** nslookup's output line for an answer holding `ip`. */
const resolvedTo = (ip: string) => new RegExp(`Address:\\s+${ip.replaceAll('.', '\\.')}`);

/** A Python program connecting to ip:port, printing ok or the error. */
function connectProbe(ip: string, port: number): string {
  return `
import socket
try:
    s = socket.socket(); s.settimeout(1.5); s.connect(('${ip}', ${port})); print('ok')
except Exception as e:
    print('error', type(e).__name__)
`;
}

describe('DNS policy and toFQDNs on real pods: the agent\'s DNS proxy behind the transparent redirect', function () {
  this.timeout(600_000);
  let c: RunningCluster;
  let n0: NodeConfig;
  let client: PodEndpoint;
  let coredns: TestCoreDns | undefined;
  let madeOutside = false;
  const children: ChildProcess[] = [];

  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const sh = async (argv: string[]) => {
    const r = await runCommand(argv[0]!, argv.slice(1));
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  const tcp = async (ip: string) => (await runCommand('nsenter', [`--net=${client.netns}`, 'python3', '-c', connectProbe(ip, WEB_PORT)])).stdout.trim();
  /** Probes until `want` (policy propagation), or ~10 s; the last outcome. */
  const expectTcp = async (ip: string, want: 'ok' | 'blocked', what: string) => {
    const outcome = async () => ((await tcp(ip)) === 'ok' ? 'ok' : 'blocked');
    let got = await outcome();
    for (let i = 0; i < 10 && got !== want; i++) await sleep(500), got = await outcome();
    expect(got, what).to.equal(want);
  };
  const nslookup = async (name: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), ['exec', '-n', NS, 'client', '--', 'nslookup', name, DNS_SERVER], { KUBECONFIG: c.kubeconfig });
    return `${r.stdout}${r.stderr}`;
  };
  /** The identity of the first node's pinned ipcache entry for exactly `ip`/32, if any. */
  const ipcacheHost = (ip: string): number | undefined => {
    using map = BpfMap.openPinned(join(nodePinRoot(c.name, n0.name), 'cilium_ipcache'), IPCACHE_CODECS.key, IPCACHE_CODECS.value);
    return map.entries().find(([k]) => ipcacheKeyCidr(k) === `${ip}/32`)?.[1].secIdentity;
  };

  before(async function () {
    const coreDnsBin = await coreDnsBuilt();
    if (!coreDnsBin) this.skip();
    c = await testRealNodesCluster();
    [n0] = c.config.nodes as [NodeConfig];
    await kubectl(['create', 'namespace', NS]);
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: NS, labels: { app: 'client' } },
      spec: { nodeName: n0.name, containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'] }] },
    }));
    await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', '--timeout=180s']);
    for (let i = 0; i < 50 && !client; i++) {
      client = podEndpoints(c.config).find((p) => p.namespace === NS && p.name === 'client')!;
      if (!client) await sleep(200);
    }

    // Outside the cluster: a namespace joined to the first node, no default route anywhere.
    await sh(['ip', 'netns', 'add', OUTSIDE_NETNS]);
    madeOutside = true;
    const ip = (netns: string, args: string) => sh(['ip', '-n', netns, ...args.split(' ')]);
    await ip(OUTSIDE_NETNS, 'link set lo up');
    for (const a of [DNS_SERVER, WEB, OTHER, BLOCKED]) await ip(OUTSIDE_NETNS, `addr add ${a}/32 dev lo`);
    const [nodeIf, outIf] = [`fq${uniq}n`, `fq${uniq}o`];
    await sh(['ip', 'link', 'add', nodeIf, 'netns', n0.netns, 'type', 'veth', 'peer', 'name', outIf, 'netns', OUTSIDE_NETNS]);
    await ip(n0.netns, `addr add 203.0.113.17/30 dev ${nodeIf}`);
    await ip(n0.netns, `link set ${nodeIf} up`);
    await ip(OUTSIDE_NETNS, `addr add 203.0.113.18/30 dev ${outIf}`);
    await ip(OUTSIDE_NETNS, `link set ${outIf} up`);
    await ip(n0.netns, `route add 192.0.2.0/24 via 203.0.113.18 dev ${nodeIf}`);
    coredns = startCoreDns(coreDnsBin!, OUTSIDE_NETNS, DNS_SERVER, { [WEB]: 'web.example', [OTHER]: 'other.example', [BLOCKED]: 'blocked.test' }, TTL_SECONDS);
    children.push(spawn('nsenter', [`--net=/run/netns/${OUTSIDE_NETNS}`, 'python3', '-c', `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${WEB_PORT})); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
`], { stdio: 'ignore' }));
    // Without policy the topology works: the server answers and the listener accepts.
    await expectTcp(WEB, 'ok', 'client -> web before any policy');
    expect(await nslookup('web.example')).to.match(resolvedTo(WEB));

    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'fqdn', namespace: NS },
      spec: {
        endpointSelector: { matchLabels: { app: 'client' } },
        egress: [
          { toCIDR: [`${DNS_SERVER}/32`], toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*.example' }] } }] },
          { toFQDNs: [{ matchName: 'web.example' }], toPorts: [{ ports: [{ port: String(WEB_PORT), protocol: 'TCP' }] }] },
        ],
      },
    }));
  });

  after(async function () {
    for (const child of children) child.kill();
    coredns?.stop();
    if (madeOutside) await runCommand('ip', ['netns', 'del', OUTSIDE_NETNS]);
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('an allowed name is answered through the proxy, and egress to its address opens only then (toFQDNs)', async function () {
    await expectTcp(WEB, 'blocked', 'client -> web before the name is resolved');
    const answer = await nslookup('web.example');
    expect(answer).to.match(resolvedTo(WEB));
    await expectTcp(WEB, 'ok', 'client -> web after web.example resolved');
  });

  it('a name rules.dns allows but no toFQDNs selects resolves, and its address stays closed', async function () {
    expect(await nslookup('other.example')).to.match(resolvedTo(OTHER));
    await expectTcp(OTHER, 'blocked', 'client -> other (resolved, not selected)');
  });

  it('a name rules.dns does not allow gets REFUSED, never reaching the server\'s answer', async function () {
    const answer = await nslookup('blocked.test');
    expect(answer).to.match(/REFUSED/i);
    expect(answer).to.not.include(BLOCKED);
  });

  it('hubble observe --type l7 shows the DNS queries with their verdicts on the client\'s node', async function () {
    if (!(await ensureHubbleCli())) this.skip();
    let flows: Flow[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await hubble(hubbleSocketPath(n0), ['observe', '-o', 'json', '--type', 'l7', '--from-pod', `${NS}/client`, '--last', '100']);
      flows = jsonLines<{ flow?: Flow }>(r.stdout).flatMap((l) => (l.flow ? [l.flow] : []));
      if (flows.some((f) => f.l7?.dns?.query === 'blocked.test.')) break;
      await sleep(500);
    }
    const web = flows.find((f) => f.l7?.dns?.query === 'web.example.' && f.verdict === 'FORWARDED');
    expect(web, 'web.example forwarded').to.not.equal(undefined);
    expect(web!.destination.identity).to.be.a('number');
    const decidedBy = (ps: Flow['egress_allowed_by']) => ps?.map((p) => [p.kind, p.namespace, p.name]);
    expect(decidedBy(web!.egress_allowed_by), 'web.example allowed by').to.deep.equal([['CiliumNetworkPolicy', NS, 'fqdn']]);
    const blocked = flows.find((f) => f.l7?.dns?.query === 'blocked.test.');
    expect(blocked?.verdict, 'blocked.test dropped').to.equal('DROPPED');
    expect(decidedBy(blocked!.egress_denied_by), 'blocked.test denied by').to.deep.equal([['CiliumNetworkPolicy', NS, 'fqdn']]);
    expect(blocked!.egress_allowed_by).to.equal(undefined);
  });

  it('egress to the address stops once its TTL ran out and the FQDN garbage collection ran, and its ipcache entry goes', async function () {
    expect(await nslookup('web.example')).to.match(resolvedTo(WEB));
    await expectTcp(WEB, 'ok', 'client -> web right after web.example resolved');
    const identity = ipcacheHost(WEB);
    expect(identity, 'ipcache entry of web.example\'s address').to.be.at.least(IDENTITY_SCOPE_LOCAL);
    // The TTL, then the next collection (at most a minute later), then policy propagation.
    for (let waited = 0; waited < (TTL_SECONDS + FQDN_GC_SECONDS + 20) * 1000 && (await tcp(WEB)) === 'ok'; waited += 2000) await sleep(2000);
    await expectTcp(WEB, 'blocked', 'client -> web after the TTL and a garbage collection');
    expect(ipcacheHost(WEB), 'ipcache entry after expiry').to.equal(undefined);
  });
});
