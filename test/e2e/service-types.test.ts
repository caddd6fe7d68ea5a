// Service types and options end to end on the shared two-node cluster of real (kubelet) nodes, from the node network: NodePort
// from the host (the cluster bridge) and from the other node, to local and remote backends;
// externalTrafficPolicy Local; externalIPs and LoadBalancer IPs routed to a node; ClientIP session
// affinity; Maglev tables in the kernel; graceful termination; and the immediate rejection of a Service without backends.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import { nodePinRoot, type NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { LB_CODECS, NAT_FLAG } from '../../datapath/maps/lb.ts';
import { ipv4ToNumber, numberToIpv4 } from '../../datapath/net.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { flowBackend } from './flow-backend.ts';
import { cgroupProcs, joinCgroupArgv } from '../../cluster/cgroup.ts';
import { SERVICES_STATE_FILE, type ServiceListRow } from '../../agent/lb-sync.ts';

const NS = 'svc-types';
const APP = join(import.meta.dirname, '..', '..', 'examples', 'star-wars', 'http-sw-app.yaml');
/** Documentation addresses (RFC 5737), routed only inside a node namespace the cluster made. */
const EXTERNAL_IP = '192.0.2.50';
const LB_IP = '192.0.2.51';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NodePort, external and LoadBalancer frontends, affinity and rejection on a two-node cluster', function () {
  this.timeout(240_000);
  let c: RunningCluster;
  let nodeA: NodeConfig;
  let nodeB: NodeConfig;
  const kubectl = async (...args: string[]) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: object) => runCommand(join(c.binDir, 'kubectl'), ['apply', '-n', NS, '-f', '-'], { KUBECONFIG: c.kubeconfig }, JSON.stringify(obj));
  const pods = () => podEndpoints(c.config).filter((p) => p.namespace === NS);
  const deathstarsOn = (node: string) => pods().filter((p) => p.name.startsWith('deathstar-') && p.node === node).map((p) => p.ip);
  const service = (name: string, spec: object) => apply({
    apiVersion: 'v1', kind: 'Service', metadata: { name },
    spec: { selector: { org: 'empire', class: 'deathstar' }, ports: [{ port: 80, protocol: 'TCP' }], ...spec },
  });
  const nodePortOf = async (name: string) => Number(await kubectl('get', 'svc', '-n', NS, name, '-o', 'jsonpath={.spec.ports[0].nodePort}'));
  /** curl from a network namespace (undefined: the host): the answer (if any) and exit code. */
  const curl = async (netns: string | undefined, url: string) => {
    const args = ['curl', '-s', '-m', '3', '-XPOST', url];
    const r = netns ? await runCommand('nsenter', [`--net=${netns}`, ...args]) : await runCommand(args[0]!, args.slice(1));
    return { answer: r.stdout.trim() || undefined, code: r.code };
  };
  /** NodePort flows from `client` to `port` that node `n` holds, by whether the backend was local (no SNAT) or remote. */
  const natFlows = (n: NodeConfig, client: string, port: number) => {
    using nat = BpfMap.openPinned(join(nodePinRoot(c.config.name, n.name), 'cilium_lb4_nodeport_nat'), LB_CODECS.ctKey, LB_CODECS.nat);
    const fwd = nat.entries().filter(([k, v]) => numberToIpv4(k.saddr) === client && k.dport === port && !(v.flags & NAT_FLAG.REPLY));
    return { local: fwd.filter(([, v]) => v.flags & NAT_FLAG.LOCAL).map(([, v]) => numberToIpv4(v.backendAddr)), remote: fwd.filter(([, v]) => !(v.flags & NAT_FLAG.LOCAL)).map(([, v]) => numberToIpv4(v.backendAddr)) };
  };
  /** The host's address on the cluster bridge (the first of the node network). */
  const hostAddress = () => `${nodeA.address.split('.').slice(0, 3).join('.')}.1`;
  /** Polls until `fn` answers, or gives up after ~10 s. */
  const eventually = async <T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
    let v = await fn();
    for (let i = 0; i < 50 && !ok(v); i++) await sleep(200), v = await fn();
    return v;
  };

  before(async function () {
    c = await testRealNodesCluster();
    [nodeA, nodeB] = c.config.nodes as [NodeConfig, NodeConfig];
    await runCommand(join(c.binDir, 'kubectl'), ['create', 'namespace', NS], { KUBECONFIG: c.kubeconfig });
    await kubectl('apply', '-n', NS, '-f', APP);
    await kubectl('wait', '-n', NS, '--for=condition=Ready', 'pod', '-l', 'app.kubernetes.io/name', '--timeout=120s');
    expect(deathstarsOn(nodeA.name).length + deathstarsOn(nodeB.name).length).to.equal(2);
  });

  after(async function () {
    if (!c) return;
    await runCommand('nsenter', [`--net=/run/netns/${nodeB.netns}`, 'ip', 'route', 'del', `${EXTERNAL_IP}/32`]);
    await runCommand('nsenter', [`--net=/run/netns/${nodeB.netns}`, 'ip', 'route', 'del', `${LB_IP}/32`]);
    await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('serves a NodePort on every node from the host, to local and remote backends', async function () {
    await service('deathstar-np', { type: 'NodePort' });
    const port = await nodePortOf('deathstar-np');
    expect(port).to.be.within(30000, 32767);
    const host = hostAddress();
    for (const n of [nodeA, nodeB]) {
      const first = await eventually(() => curl(undefined, `http://${n.address}:${port}/v1/request-landing`), (r) => r.answer === 'Ship landed');
      expect(first.answer, `NodePort on ${n.name}`).to.equal('Ship landed');
      for (let i = 0; i < 12; i++) expect((await curl(undefined, `http://${n.address}:${port}/v1/request-landing`)).answer).to.equal('Ship landed');
      const flows = natFlows(n, host, port);
      expect(flows.local.length, `local backend flows on ${n.name}`).to.be.greaterThan(0);
      expect(flows.remote.length, `SNATed remote backend flows on ${n.name}`).to.be.greaterThan(0);
      expect(new Set(flows.local)).to.deep.equal(new Set(deathstarsOn(n.name)));
    }
  });

  it('serves a NodePort to a client on another node', async function () {
    const port = await nodePortOf('deathstar-np');
    const r = await curl(`/run/netns/${nodeB.netns}`, `http://${nodeA.address}:${port}/v1/request-landing`);
    expect(r.answer).to.equal('Ship landed');
  });

  it('externalTrafficPolicy Local: only the node-local backend, from outside', async function () {
    await service('deathstar-local', { type: 'NodePort', externalTrafficPolicy: 'Local' });
    const port = await nodePortOf('deathstar-local');
    const host = hostAddress();
    await eventually(() => curl(undefined, `http://${nodeA.address}:${port}/v1/request-landing`), (r) => r.answer === 'Ship landed');
    for (let i = 0; i < 10; i++) expect((await curl(undefined, `http://${nodeA.address}:${port}/v1/request-landing`)).answer).to.equal('Ship landed');
    const flows = natFlows(nodeA, host, port);
    expect(flows.remote.filter((b) => deathstarsOn(nodeB.name).includes(b)), 'nothing SNATed to the other node').to.deep.equal([]);
    expect(new Set(flows.local)).to.deep.equal(new Set(deathstarsOn(nodeA.name)));
  });

  it('routes externalIPs and assigned LoadBalancer IPs from the node network', async function () {
    await service('deathstar-ext', { externalIPs: [EXTERNAL_IP] });
    await service('deathstar-lb', { type: 'LoadBalancer' });
    await kubectl('patch', 'svc', '-n', NS, 'deathstar-lb', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: LB_IP }] } } }));
    // The node network's router: node B sends both addresses to node A.
    for (const ip of [EXTERNAL_IP, LB_IP]) {
      await runCommand('nsenter', [`--net=/run/netns/${nodeB.netns}`, 'ip', 'route', 'replace', `${ip}/32`, 'via', nodeA.address, 'dev', 'eth0']);
    }
    for (const ip of [EXTERNAL_IP, LB_IP]) {
      const r = await eventually(() => curl(`/run/netns/${nodeB.netns}`, `http://${ip}/v1/request-landing`), (x) => x.answer === 'Ship landed');
      expect(r.answer, ip).to.equal('Ship landed');
    }
  });

  it('keeps a client on one backend with sessionAffinity ClientIP', async function () {
    await service('deathstar-sticky', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } } });
    const vip = (await kubectl('get', 'svc', '-n', NS, 'deathstar-sticky', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    const tie: PodEndpoint = pods().find((p) => p.name === 'tiefighter')!;
    await eventually(() => curl(tie.netns, `http://${vip}/v1/request-landing`), (r) => r.answer === 'Ship landed');
    using ct = BpfMap.openPinned(join(nodePinRoot(c.config.name, tie.node), 'cilium_lb4_affinity'), LB_CODECS.affinityKey, LB_CODECS.affinity);
    const chosen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      expect((await curl(tie.netns, `http://${vip}/v1/request-landing`)).answer).to.equal('Ship landed');
      const row = ct.entries().find(([k]) => k.client === ipv4ToNumber(tie.ip));
      expect(row, 'affinity row for the tiefighter').to.not.equal(undefined);
      chosen.add(row![1].backendId);
    }
    expect(chosen.size).to.equal(1);
  });

  it('writes a Maglev table for a Service annotated service.cilium.io/lb-algorithm: maglev', async function () {
    await apply({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'deathstar-maglev', annotations: { 'service.cilium.io/lb-algorithm': 'maglev' } },
      spec: { type: 'NodePort', selector: { org: 'empire', class: 'deathstar' }, ports: [{ port: 80, protocol: 'TCP' }] },
    });
    const port = await nodePortOf('deathstar-maglev');
    const r = await eventually(() => curl(undefined, `http://${nodeA.address}:${port}/v1/request-landing`), (x) => x.answer === 'Ship landed');
    expect(r.answer).to.equal('Ship landed');
    using maglev = BpfMap.openPinned(join(nodePinRoot(c.config.name, nodeA.name), 'cilium_lb4_maglev'), LB_CODECS.maglevKey, LB_CODECS.backendId);
    const ids = new Set(maglev.entries().map(([, id]) => id));
    expect(maglev.entries().length).to.be.at.least(16381);
    expect(ids.size).to.be.at.least(2);
  });

  it('graceful termination: a terminating backend gets no new connections and keeps its established one', async function () {
    const ips = pods().filter((p) => p.name.startsWith('deathstar-')).map((p) => p.ip).sort();
    const slice = (terminating?: string) => ({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { name: 'deathstar-manual-1', labels: { 'kubernetes.io/service-name': 'deathstar-manual' } },
      ports: [{ name: '', port: 80, protocol: 'TCP' }],
      endpoints: ips.map((ip) => ({ addresses: [ip], conditions: ip === terminating ? { ready: false, serving: true, terminating: true } : { ready: true } })),
    });
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'deathstar-manual' }, spec: { ports: [{ port: 80, protocol: 'TCP' }] } });
    await apply(slice());
    const vip = (await kubectl('get', 'svc', '-n', NS, 'deathstar-manual', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    const tie = pods().find((p) => p.name === 'tiefighter')!;
    const wanted = () => {
      const path = join(c.config.nodes!.find((n) => n.name === tie.node)!.dir, 'agent', SERVICES_STATE_FILE);
      const rows = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as ServiceListRow[] : [];
      return rows.find((r) => r.service === `${NS}/deathstar-manual`)?.backends.map((b) => b.split(':')[0]!).sort() ?? [];
    };
    for (let i = 0; i < 50 && wanted().length !== 2; i++) await sleep(200);
    expect(wanted()).to.deep.equal(ips);
    const backendOf = (port: number) => flowBackend(c.config.name, tie.node, tie.ip, port);
    // An established connection: the request's head sent, its end held back until the backend is terminating.
    const script = [
      'import socket, sys',
      `s = socket.create_connection(("${vip}", 80), timeout=20)`,
      's.sendall(b"POST /v1/request-landing HTTP/1.0\\r\\nHost: deathstar\\r\\n")',
      'print("connected", s.getsockname()[1], flush=True)',
      'sys.stdin.readline()',
      's.sendall(b"Content-Length: 0\\r\\n\\r\\n")',
      'data = b""',
      'while True:',
      '    chunk = s.recv(4096)',
      '    if not chunk: break',
      '    data += chunk',
      'print(data.decode().split("\\r\\n\\r\\n", 1)[-1].strip(), flush=True)',
    ].join('\n');
    const client = spawn('nsenter', [`--net=${tie.netns}`, 'python3', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
      const first = (await lines.next()).value as string;
      const port = Number(first.split(' ')[1]);
      const held = backendOf(port)!;
      expect(ips).to.include(held);
      await apply(slice(held));
      for (let i = 0; i < 50 && wanted().length !== 1; i++) await sleep(200);
      expect(wanted(), 'only the ready backend takes new connections').to.deep.equal(ips.filter((ip) => ip !== held));
      for (let i = 0; i < 8; i++) {
        const r = await runCommand('nsenter', [`--net=${tie.netns}`, 'curl', '-s', '-m', '3', '-XPOST', '-w', '\n%{local_port}', `http://${vip}/v1/request-landing`]);
        const [answer, local] = r.stdout.trim().split('\n');
        expect(answer).to.equal('Ship landed');
        expect(backendOf(Number(local))).to.not.equal(held);
      }
      client.stdin!.write('go\n');
      expect((await lines.next()).value, 'the established connection completes on its terminating backend').to.equal('Ship landed');
    } finally {
      client.kill();
    }
  });

  it('translates at connect() for processes in the node cgroup: no per-packet rewrite, the peer still reads as the ClusterIP', async function () {
    const vip = (await kubectl('get', 'svc', '-n', NS, 'deathstar', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    const tie = pods().find((p) => p.name === 'tiefighter')!;
    const procs = cgroupProcs(c.config.nodes!.find((n) => n.name === tie.node)!.cgroup);
    expect(procs, 'the node has a cgroup v2 directory').to.be.a('string');
    const argv = [...joinCgroupArgv(procs), 'nsenter', `--net=${tie.netns}`, 'curl', '-s', '-m', '3', '-XPOST', '-w', '\n%{remote_ip}:%{remote_port} %{local_port}', `http://${vip}/v1/request-landing`];
    const r = await runCommand(argv[0]!, argv.slice(1));
    const [answer, tail] = r.stdout.trim().split(/\n+/);
    const [peer, local] = tail!.split(' ');
    expect(answer).to.equal('Ship landed');
    expect(peer, 'getpeername shows the frontend').to.equal(`${vip}:80`);
    const backend = flowBackend(c.config.name, tie.node, tie.ip, Number(local));
    expect(pods().filter((p) => p.name.startsWith('deathstar-')).map((p) => p.ip)).to.include(backend);
    const pins = nodePinRoot(c.config.name, tie.node);
    using lbct = BpfMap.openPinned(join(pins, 'cilium_lb4_ct'), LB_CODECS.ctKey, LB_CODECS.ct);
    expect(lbct.lookup({ saddr: ipv4ToNumber(tie.ip), daddr: ipv4ToNumber(vip), sport: Number(local), dport: 80, proto: 6, dir: 2 }), 'no per-packet translation').to.equal(undefined);
    using sk = BpfMap.openPinned(join(pins, 'cilium_lb4_reverse_sk'), LB_CODECS.sockKey, LB_CODECS.sockFrontend);
    expect(sk.entries().some(([k, v]) => numberToIpv4(k.address) === backend && numberToIpv4(v.address) === vip)).to.equal(true);
  });

  it('rejects a connection to a Service without backends at once, from a pod and from the node network', async function () {
    await apply({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'nobody' },
      spec: { type: 'NodePort', selector: { class: 'no-such-pod' }, ports: [{ port: 80, protocol: 'TCP' }] },
    });
    const vip = (await kubectl('get', 'svc', '-n', NS, 'nobody', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    const port = await nodePortOf('nobody');
    const tie = pods().find((p) => p.name === 'tiefighter')!;
    // curl exits 7 (could not connect) when the connection is refused; a hang would be 28 after 3 s.
    const fromPod = await eventually(() => curl(tie.netns, `http://${vip}/`), (r) => r.code === 7);
    expect(fromPod.code, 'from a pod').to.equal(7);
    const fromNet = await eventually(() => curl(undefined, `http://${nodeA.address}:${port}/`), (r) => r.code === 7);
    expect(fromNet.code, 'from the node network').to.equal(7);
  });
});
