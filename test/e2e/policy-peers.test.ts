// The policy matrix on the shared two-node cluster of real (kubelet) nodes: one probe per peer kind
// and direction, allowed and denied, decided in the kernel by the running agents. A client pod on the
// first node and an agnhost server (named port "http") on the second; a network namespace the test
// makes stands for "outside the cluster": two addresses (A inside the policies' /25, B in the carved
// out /25), reachable from each node namespace only through a veth pair the test creates, with routes
// back to exactly the node and pod addresses it needs and no default route. Probes are host processes
// (python3) entered into the pods' and namespaces' network namespaces.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, readFlows, type PodEndpoint } from '../../cluster/pods.ts';
import { DropReason } from '../../datapath/constants.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';

const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
const BUSYBOX = 'docker.io/library/busybox:1.35';
/** Outside addresses (RFC 5737 TEST-NET-2): A in 198.51.100.0/25, B in the excepted 198.51.100.128/25. */
const A = '198.51.100.10';
const B = '198.51.100.130';
const OUTSIDE_PORT = 80;
const SERVER_PORT = 8080;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniq = Math.random().toString(36).slice(2, 6);
const OUTSIDE_NETNS = `ppo${uniq}`;
const NS = `policy-peers-${uniq}`;

type Outcome = 'ok' | 'blocked';

/** A TCP connect (optionally from a given source address) printing ok or error. */
function connectProbe(ip: string, port: number, from?: string): string {
  return `
import socket
try:
    s = socket.socket(); s.settimeout(1.5)
    ${from ? `s.bind(('${from}', 0))` : ''}
    s.connect(('${ip}', ${port})); print('ok')
except Exception as e:
    print('error', type(e).__name__)
`;
}

/** One ICMP echo request to `ip` over a raw socket, printing ok when its echo reply comes back. */
function pingProbe(ip: string): string {
  return `
import os, select, socket, struct, time
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ident = os.getpid() & 0xffff
body = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + b'ciliate-ping'
body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(body, ('${ip}', 0))
deadline = time.time() + 1.5
while time.time() < deadline:
    if not select.select([s], [], [], max(0, deadline - time.time()))[0]: break
    d, a = s.recvfrom(2048)
    h = (d[0] & 15) * 4
    if a[0] == '${ip}' and d[h] == 0 and struct.unpack('!H', d[h + 4:h + 6])[0] == ident:
        print('ok'); break
else:
    print('timeout')
`;
}

/** Sends one Ethernet frame of ethertype IPv6 out of eth0 (AF_PACKET). */
const IPV6_FRAME = `
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('eth0', 0))
s.send(b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x01' + b'\\x86\\xdd' + b'\\x60' + b'\\x00' * 39)
print('sent')
`;

describe('policy peers on real pods across two nodes: every peer kind in the kernel', function () {
  this.timeout(600_000);
  let c: RunningCluster;
  let n0: NodeConfig;
  let n1: NodeConfig;
  let client: PodEndpoint;
  let server: PodEndpoint;
  const children: ChildProcess[] = [];
  const links: { netns: string; name: string }[] = [];
  let madeOutside = false;
  /** Flow records of earlier tests (and runs) do not count. */
  let since = '';
  beforeEach(() => {
    since = new Date().toISOString();
  });

  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: object) => kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  const sh = async (argv: string[]) => {
    const r = await runCommand(argv[0]!, argv.slice(1));
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ip = (netns: string, args: string) => sh(['ip', '-n', netns, ...args.split(' ')]);
  const py = async (netnsPath: string, program: string) => (await runCommand('nsenter', [`--net=${netnsPath}`, 'python3', '-c', program])).stdout.trim();
  const tcp = async (from: string, to: string, port: number, src?: string): Promise<Outcome> =>
    ((await py(from, connectProbe(to, port, src))) === 'ok' ? 'ok' : 'blocked');
  const ping = async (from: string, to: string): Promise<Outcome> => ((await py(from, pingProbe(to))) === 'ok' ? 'ok' : 'blocked');
  /** Probes until the expected outcome is seen (policy propagation), or gives up after ~15 s; the last outcome. */
  const expectOutcome = async (what: string, probe: () => Promise<Outcome>, want: Outcome) => {
    let got = await probe();
    for (let i = 0; i < 12 && got !== want; i++) await sleep(500), got = await probe();
    expect(got, what).to.equal(want);
  };
  /** The drops the datapath recorded for a destination (and optional source), waiting for the flow log. */
  const dropsTo = async (dstIp: string, reason: number, srcIp?: string) => {
    const find = () => readFlows(c.config).filter((f) => f.time >= since && f.verdict === 'DROPPED' && f.dropReason === reason && f.dstIp === dstIp && (!srcIp || f.srcIp === srcIp));
    let found = find();
    for (let i = 0; i < 20 && found.length === 0; i++) await sleep(250), found = find();
    return found;
  };
  const outsidePath = () => `/run/netns/${OUTSIDE_NETNS}`;
  const nodePath = (n: NodeConfig) => `/run/netns/${n.netns}`;
  const cnp = (name: string, app: string, spec: object) => ({
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: NS }, spec: { endpointSelector: { matchLabels: { app } }, ...spec },
  });
  const withPolicies = async (objs: object[], body: () => Promise<void>) => {
    try {
      for (const o of objs) await apply(o);
      await body();
    } finally {
      for (const o of objs) {
        const { kind, metadata } = o as { kind: string; metadata: { name: string; namespace?: string } };
        await runCommand(join(c.binDir, 'kubectl'), ['delete', kind, metadata.name, ...(metadata.namespace ? ['-n', metadata.namespace] : []), '--ignore-not-found'], { KUBECONFIG: c.kubeconfig });
      }
    }
  };

  before(async function () {
    c = await testRealNodesCluster();
    [n0, n1] = c.config.nodes as [NodeConfig, NodeConfig];
    await runCommand(join(c.binDir, 'kubectl'), ['create', 'namespace', NS], { KUBECONFIG: c.kubeconfig });
    await apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: NS, labels: { app: 'client' } },
      spec: { nodeName: n0.name, containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'] }] },
    });
    await apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server', namespace: NS, labels: { app: 'server' } },
      spec: {
        nodeName: n1.name,
        containers: [{ name: 's', image: AGNHOST, args: ['netexec', `--http-port=${SERVER_PORT}`], ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }] }],
      },
    });
    await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', 'pod/server', '--timeout=180s']);
    const ep = (name: string) => podEndpoints(c.config).find((p) => p.namespace === NS && p.name === name);
    for (let i = 0; i < 50 && !(ep('client') && ep('server')); i++) await sleep(200);
    client = ep('client')!;
    server = ep('server')!;

    // Outside the cluster: a namespace joined to each node by a veth pair, no default route anywhere.
    await sh(['ip', 'netns', 'add', OUTSIDE_NETNS]);
    madeOutside = true;
    await ip(OUTSIDE_NETNS, 'link set lo up');
    await ip(OUTSIDE_NETNS, `addr add ${A}/32 dev lo`);
    await ip(OUTSIDE_NETNS, `addr add ${B}/32 dev lo`);
    for (const [i, node] of [n0, n1].entries()) {
      const [nodeIf, outIf] = [`pp${uniq}n${i}`, `pp${uniq}o${i}`];
      const [nodeAddr, outAddr] = [`203.0.113.${4 * i + 1}`, `203.0.113.${4 * i + 2}`];
      await sh(['ip', 'link', 'add', nodeIf, 'netns', node.netns, 'type', 'veth', 'peer', 'name', outIf, 'netns', OUTSIDE_NETNS]);
      links.push({ netns: node.netns, name: nodeIf });
      await ip(node.netns, `addr add ${nodeAddr}/30 dev ${nodeIf}`);
      await ip(node.netns, `link set ${nodeIf} up`);
      await ip(OUTSIDE_NETNS, `addr add ${outAddr}/30 dev ${outIf}`);
      await ip(OUTSIDE_NETNS, `link set ${outIf} up`);
      await ip(node.netns, `route add 198.51.100.0/24 via ${outAddr} dev ${nodeIf}`);
      await ip(OUTSIDE_NETNS, `route add ${node.address}/32 via ${nodeAddr} dev ${outIf}`);
    }
    await ip(OUTSIDE_NETNS, `route add ${server.ip}/32 via 203.0.113.5 src ${A}`);
    await ip(OUTSIDE_NETNS, `route add ${client.ip}/32 via 203.0.113.1 src ${A}`);
    const listener = spawn('nsenter', [`--net=${outsidePath()}`, 'python3', '-c', `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${OUTSIDE_PORT})); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
`], { stdio: 'ignore' });
    children.push(listener);
    // Without policy everything answers: the topology works before any rule is judged.
    await expectOutcome('client -> A', () => tcp(client.netns, A, OUTSIDE_PORT), 'ok');
    await expectOutcome('client -> B', () => tcp(client.netns, B, OUTSIDE_PORT), 'ok');
    await expectOutcome('A -> server', () => tcp(outsidePath(), server.ip, SERVER_PORT, A), 'ok');
    await expectOutcome('client -> server', () => tcp(client.netns, server.ip, SERVER_PORT), 'ok');
  });

  after(async function () {
    for (const child of children) child.kill();
    for (const l of links) await runCommand('ip', ['-n', l.netns, 'link', 'del', l.name]);
    if (madeOutside) await runCommand('ip', ['netns', 'del', OUTSIDE_NETNS]);
    if (c) {
      await runCommand(join(c.binDir, 'kubectl'), ['delete', 'ciliumcidrgroup', `partners-${uniq}`, '--ignore-not-found'], { KUBECONFIG: c.kubeconfig });
      await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
    }
  });

  it('egress toCIDRSet with except: A allowed, the carved-out B dropped (133); the same as a NetworkPolicy ipBlock', async function () {
    await withPolicies([cnp('cidrset', 'client', { egress: [{ toCIDRSet: [{ cidr: '198.51.100.0/24', except: ['198.51.100.128/25'] }], toPorts: [{ ports: [{ port: String(OUTSIDE_PORT), protocol: 'TCP' }] }] }] })], async () => {
      await expectOutcome('client -> A', () => tcp(client.netns, A, OUTSIDE_PORT), 'ok');
      await expectOutcome('client -> B', () => tcp(client.netns, B, OUTSIDE_PORT), 'blocked');
      expect((await dropsTo(B, DropReason.POLICY_DENIED)).length, 'B dropped by default deny').to.be.greaterThan(0);
    });
    await withPolicies([{
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'ipblock', namespace: NS },
      spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '198.51.100.0/24', except: ['198.51.100.128/25'] } }] }] },
    }], async () => {
      await expectOutcome('client -> A (ipBlock)', () => tcp(client.netns, A, OUTSIDE_PORT), 'ok');
      await expectOutcome('client -> B (ipBlock except)', () => tcp(client.netns, B, OUTSIDE_PORT), 'blocked');
    });
  });

  it('egressDeny toCIDR wins over toEntities world (181); world is neither the apiserver nor a pod', async function () {
    await withPolicies([cnp('deny-a', 'client', { egress: [{ toEntities: ['world'] }], egressDeny: [{ toCIDR: [`${A}/32`] }] })], async () => {
      await expectOutcome('client -> A (denied)', () => tcp(client.netns, A, OUTSIDE_PORT), 'blocked');
      expect((await dropsTo(A, DropReason.POLICY_DENY)).length, 'A dropped by the deny rule').to.be.greaterThan(0);
      await expectOutcome('client -> B (world)', () => tcp(client.netns, B, OUTSIDE_PORT), 'ok');
      await expectOutcome('client -> server (a pod)', () => tcp(client.netns, server.ip, SERVER_PORT), 'blocked');
      await expectOutcome('client -> apiserver', () => tcp(client.netns, c.config.network.gateway, 6443), 'blocked');
    });
  });

  it('egress toEntities kube-apiserver and remote-node', async function () {
    await withPolicies([cnp('entities', 'client', { egress: [{ toEntities: ['kube-apiserver'] }, { toEntities: ['remote-node'] }] })], async () => {
      await expectOutcome('client -> apiserver', () => tcp(client.netns, c.config.network.gateway, 6443), 'ok');
      await expectOutcome('client -> other node\'s kubelet', () => tcp(client.netns, n1.address, 10250), 'ok');
      await expectOutcome('client -> A', () => tcp(client.netns, A, OUTSIDE_PORT), 'blocked');
      await expectOutcome('client -> server', () => tcp(client.netns, server.ip, SERVER_PORT), 'blocked');
    });
  });

  it('egress toEndpoints on a named port resolves to the server\'s container port', async function () {
    const named = (port: string) => cnp('named', 'client', { egress: [{ toEndpoints: [{ matchLabels: { app: 'server' } }], toPorts: [{ ports: [{ port, protocol: 'TCP' }] }] }] });
    await withPolicies([named('http')], async () => {
      await expectOutcome('client -> server:http', () => tcp(client.netns, server.ip, SERVER_PORT), 'ok');
      await expectOutcome('client -> A', () => tcp(client.netns, A, OUTSIDE_PORT), 'blocked');
    });
    await withPolicies([named('metrics')], async () => {
      await expectOutcome('client -> server:8080 under a name it does not carry', () => tcp(client.netns, server.ip, SERVER_PORT), 'blocked');
    });
  });

  it('egress NetworkPolicy ipBlock covering a pod selects it by address (policy-cidr-match-mode pods); its except carves it out', async function () {
    const block = (except: string[]) => ({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'ipblock-pod', namespace: NS },
      spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${server.ip}/30`, except } }] }] },
    });
    await withPolicies([block([])], async () => {
      await expectOutcome('client -> server (inside the block)', () => tcp(client.netns, server.ip, SERVER_PORT), 'ok');
      await expectOutcome('client -> A (outside it)', () => tcp(client.netns, A, OUTSIDE_PORT), 'blocked');
    });
    await withPolicies([block([`${server.ip}/32`])], async () => {
      await expectOutcome('client -> server (excepted)', () => tcp(client.netns, server.ip, SERVER_PORT), 'blocked');
    });
  });

  it('egress icmps: echo requests to a CIDR pass, TCP to it does not', async function () {
    await withPolicies([cnp('ping', 'client', { egress: [{ toCIDR: ['198.51.100.0/24'], icmps: [{ fields: [{ type: 'EchoRequest', family: 'IPv4' }] }] }] })], async () => {
      await expectOutcome('ping A', () => ping(client.netns, A), 'ok');
      await expectOutcome('client -> A over TCP', () => tcp(client.netns, A, OUTSIDE_PORT), 'blocked');
    });
    await withPolicies([cnp('no-ping', 'client', { egress: [{ toCIDR: ['198.51.100.0/24'], icmps: [{ fields: [{ type: 'Timestamp', family: 'IPv4' }] }] }] })], async () => {
      await expectOutcome('ping A under a rule for another type', () => ping(client.netns, A), 'blocked');
    });
  });

  it('egress to a CiliumCIDRGroup by reference follows a change of the group at once', async function () {
    const group = (cidr: string) => apply({ apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumCIDRGroup', metadata: { name: `partners-${uniq}` }, spec: { externalCIDRs: [cidr] } });
    await group(`${A}/32`);
    await withPolicies([cnp('group', 'client', { egress: [{ toCIDRSet: [{ cidrGroupRef: `partners-${uniq}` }] }] })], async () => {
      await expectOutcome('client -> A (in the group)', () => tcp(client.netns, A, OUTSIDE_PORT), 'ok');
      await expectOutcome('client -> B', () => tcp(client.netns, B, OUTSIDE_PORT), 'blocked');
      await group(`${B}/32`);
      await expectOutcome('client -> B (now in the group)', () => tcp(client.netns, B, OUTSIDE_PORT), 'ok');
      await expectOutcome('client -> A (left the group)', () => tcp(client.netns, A, OUTSIDE_PORT), 'blocked');
    });
  });

  it('ingress fromCIDR, ingressDeny fromCIDRSet (181), fromEndpoints; another node is not a CIDR peer', async function () {
    await withPolicies([cnp('in-cidr', 'server', {
      ingress: [{ fromCIDR: ['198.51.100.0/24'] }, { fromEndpoints: [{ matchLabels: { app: 'client' } }] }],
      ingressDeny: [{ fromCIDRSet: [{ cidr: '198.51.100.128/25' }] }],
    })], async () => {
      await expectOutcome('A -> server', () => tcp(outsidePath(), server.ip, SERVER_PORT, A), 'ok');
      await expectOutcome('B -> server (denied)', () => tcp(outsidePath(), server.ip, SERVER_PORT, B), 'blocked');
      expect((await dropsTo(server.ip, DropReason.POLICY_DENY, B)).length, 'B dropped by the deny rule').to.be.greaterThan(0);
      await expectOutcome('client -> server', () => tcp(client.netns, server.ip, SERVER_PORT), 'ok');
      await expectOutcome('first node -> server', () => tcp(nodePath(n0), server.ip, SERVER_PORT), 'blocked');
    });
  });

  it('ingress fromEntities remote-node and icmps from an endpoint', async function () {
    await withPolicies([cnp('in-ents', 'server', {
      ingress: [{ fromEntities: ['remote-node'] }, { fromEndpoints: [{ matchLabels: { app: 'client' } }], icmps: [{ fields: [{ type: 8 }] }] }],
    })], async () => {
      await expectOutcome('first node -> server', () => tcp(nodePath(n0), server.ip, SERVER_PORT), 'ok');
      await expectOutcome('client pings server', () => ping(client.netns, server.ip), 'ok');
      await expectOutcome('client -> server over TCP', () => tcp(client.netns, server.ip, SERVER_PORT), 'blocked');
      await expectOutcome('A -> server', () => tcp(outsidePath(), server.ip, SERVER_PORT, A), 'blocked');
    });
  });

  it('drops an IPv6 frame a pod sends (reason 139, Unsupported L3 protocol), counted in the flow log', async function () {
    const clientIdentity = Number(await kubectl(['get', 'cep', '-n', NS, 'client', '-o', 'jsonpath={.status.identity.id}']));
    const find = () => readFlows(c.config).filter((f) => f.time >= since && f.node === n0.name && f.dropReason === DropReason.UNKNOWN_L3 && f.srcIdentity === clientIdentity);
    // Drops are aggregated per second: frames the pod's own kernel sent just before may hold the report back.
    let drops: ReturnType<typeof find> = [];
    for (let i = 0; i < 20 && drops.length === 0; i++) {
      expect(await py(client.netns, IPV6_FRAME)).to.equal('sent');
      await sleep(300);
      drops = find();
    }
    expect(drops.length).to.be.greaterThan(0);
    expect(drops[0]).to.include({ direction: 'EGRESS', dropReasonDesc: 'Unsupported L3 protocol', dstPort: 0x86dd });
  });
});
