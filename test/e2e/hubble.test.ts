// The real upstream `hubble` CLI against the agents' Hubble servers on the shared two-node cluster
// of real (kubelet) nodes: a client and a friend pod on the first node, a server on the second; a
// CiliumNetworkPolicy denies the client and allows the friend. The drop, its reason and its rule,
// and the allowed connection with its rule, must show through each node's socket, with filters,
// history and follow; status, nodes, namespaces and peers answer; the TCP port serves across nodes.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { hubbleSocketPath, HUBBLE_PORT } from '../../cluster/agent-launch.ts';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { tcpConnect as connect } from '../support/tcp-programs.ts';
import { ensureHubbleCli, hubble, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { serverIngressPolicy } from '../support/hubble-flows.ts';
import { AGNHOST, clientFriendServer, SERVER_PORT } from '../support/hubble-pods.ts';

const uniq = Math.random().toString(36).slice(2, 6);
const NS = `hubble-${uniq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Hubble on real pods: the upstream hubble CLI against each agent', function () {
  this.timeout(900_000);
  let c: RunningCluster;
  let n0: NodeConfig;
  let n1: NodeConfig;
  let client: PodEndpoint;
  let friend: PodEndpoint;
  let server: PodEndpoint;
  const sock = (n: NodeConfig) => hubbleSocketPath(n);

  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: object) => kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  /** Flows of `hubble observe -o json ARGS` on `node`, retried until `until` holds (or ~20 s). */
  const observe = async (node: NodeConfig, args: string[], until: (flows: Flow[]) => boolean = (f) => f.length > 0) => {
    let flows: Flow[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await hubble(sock(node), ['observe', '-o', 'json', ...args]);
      expect(r.code, r.stderr).to.equal(0);
      flows = jsonLines<{ flow?: Flow }>(r.stdout).flatMap((l) => (l.flow ? [l.flow] : []));
      if (until(flows)) break;
      await sleep(500);
    }
    return flows;
  };

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    c = await testRealNodesCluster();
    [n0, n1] = c.config.nodes as [NodeConfig, NodeConfig];
    await kubectl(['create', 'namespace', NS]);
    ({ client, friend, server } = await clientFriendServer(c, NS, [n0, n1], apply, kubectl));
    await apply(serverIngressPolicy(NS));
    let [c1, f1] = ['', ''];
    for (let i = 0; i < 30 && !(c1 !== 'ok' && f1 === 'ok'); i++) {
      [c1, f1] = [await connect(client.netns, server.ip, SERVER_PORT), await connect(friend.netns, server.ip, SERVER_PORT)];
      if (!(c1 !== 'ok' && f1 === 'ok')) await sleep(500);
    }
    expect(c1, 'client denied').to.match(/^error/);
    expect(f1, 'friend allowed').to.equal('ok');
  });

  after(async function () {
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('hubble observe --verdict DROPPED -o json on the server\'s node: the drop with its reason, endpoints and deny rule', async function () {
    const drops = await observe(n1, ['--verdict', 'DROPPED', '--from-pod', `${NS}/client`, '--last', '50']);
    expect(drops.length).to.be.greaterThan(0);
    const d = drops[0]!;
    expect(d).to.deep.include({ verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENY', traffic_direction: 'INGRESS', node_name: n1.name });
    expect(d.event_type.type).to.equal(1);
    expect(d.IP).to.deep.include({ source: client.ip, destination: server.ip });
    expect(d.l4?.TCP?.destination_port).to.equal(SERVER_PORT);
    expect(d.source).to.deep.include({ namespace: NS, pod_name: 'client' });
    expect(d.source.labels).to.include('k8s:app=client');
    expect(d.destination).to.deep.include({ namespace: NS, pod_name: 'server' });
    expect(d.destination.identity).to.be.greaterThan(255);
    expect(d.ingress_denied_by?.map((p) => [p.kind, p.namespace, p.name])).to.deep.equal([['CiliumNetworkPolicy', NS, 'server-ingress']]);
    expect(d.Summary).to.match(/TCP Flags: SYN/);
  });

  it('the allowed connection shows its policy verdict and allowing rule; traces carry their observation point', async function () {
    const verdicts = await observe(n1, ['--from-pod', `${NS}/friend`, '--type', 'policy-verdict', '--all']);
    expect(verdicts.length).to.be.greaterThan(0);
    expect(verdicts[0]).to.deep.include({ verdict: 'FORWARDED', traffic_direction: 'INGRESS' });
    expect(verdicts[0]!.ingress_allowed_by?.map((p) => p.name)).to.deep.equal(['server-ingress']);
    const named = await hubble(sock(n1), ['observe', '--from-pod', `${NS}/friend`, '--type', 'policy-verdict', '--print-policy-names', '--last', '1']);
    expect(named.stdout).to.match(/policy-verdict:\S+ INGRESS ALLOWED BY server-ingress \(CiliumNetworkPolicy\)/);
    const traces = await observe(n0, ['--from-pod', `${NS}/friend`, '--to-port', String(SERVER_PORT), '--type', 'trace', '--all']);
    expect(traces.length).to.be.greaterThan(0);
    expect(traces.every((f) => f.trace_observation_point === 'FROM_ENDPOINT' && f.event_type.sub_type === 5)).to.be.true;
  });

  it('filters: namespace, labels, ports, verdict, blacklist; the compact output names pods and verdicts', async function () {
    const byLabel = await observe(n1, ['-n', NS, '-l', 'app=client', '--to-port', String(SERVER_PORT), '--all']);
    expect(byLabel.length).to.be.greaterThan(0);
    expect(byLabel.every((f) => f.source.pod_name === 'client' || f.destination.pod_name === 'client')).to.be.true;
    const notDropped = await observe(n1, ['--not', '--verdict', 'DROPPED', '--pod', `${NS}/`, '--all']);
    expect(notDropped.length).to.be.greaterThan(0);
    expect(notDropped.some((f) => f.verdict === 'DROPPED')).to.be.false;
    const compact = await hubble(sock(n1), ['observe', '--from-pod', `${NS}/client`, '--verdict', 'DROPPED', '--last', '1']);
    // A drop's reply state is unknown: upstream's compact output prints `<>` for it.
    expect(compact.stdout).to.match(new RegExp(`${NS}/client:\\d+ .*<> ${NS}/server:${SERVER_PORT} .*DROPPED`));
  });

  it('flows name the workload owning a pod, on its node and on the other, and the Service whose backend it is (--to-service, --to-workload)', async function () {
    await apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { nodeName: n1.name, containers: [{ name: 's', image: AGNHOST, args: ['netexec', `--http-port=${SERVER_PORT}`] }] } },
      },
    });
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: SERVER_PORT }] } });
    await kubectl(['rollout', 'status', '-n', NS, 'deployment/web', '--timeout=180s']);
    let web: PodEndpoint | undefined;
    for (let i = 0; i < 50 && !web; i++) {
      web = podEndpoints(c.config).find((p) => p.namespace === NS && p.name.startsWith('web-'));
      if (!web) await sleep(200);
    }
    for (let i = 0; i < 20 && (await connect(friend.netns, web!.ip, SERVER_PORT)) !== 'ok'; i++) await sleep(500);
    const flows = await observe(n1, ['--to-service', `${NS}/web`, '--from-pod', `${NS}/friend`, '--all']);
    expect(flows.length).to.be.greaterThan(0);
    expect(flows[0]!.destination_service).to.deep.equal({ name: 'web', namespace: NS });
    expect(flows[0]!.destination.workloads).to.deep.equal([{ name: 'web', kind: 'Deployment' }]);
    const byWorkload = await observe(n1, ['--to-workload', 'Deployment/web', '-n', NS, '--all']);
    expect(byWorkload.length).to.be.greaterThan(0);
    // The friend's node does not watch the web pod: its CiliumEndpoint names the workload.
    const remote = await observe(n0, ['--to-workload', 'Deployment/web', '--from-pod', `${NS}/friend`, '--all']);
    expect(remote.length, 'the client node names the remote workload').to.be.greaterThan(0);
    expect(remote[0]!.destination.workloads).to.deep.equal([{ name: 'web', kind: 'Deployment' }]);
  });

  it('--follow streams new flows as they happen; --since bounds history', async function () {
    const follower = spawn(hubbleCli(), ['observe', '--server', `unix://${sock(n1)}`, '--follow', '-o', 'json', '--from-pod', `${NS}/client`], { env: { ...process.env, HUBBLE_CONFIG: '/dev/null' } });
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    try {
      await sleep(1000);
      for (let i = 0; i < 20 && !out.includes('"DROPPED"'); i++) {
        await connect(client.netns, server.ip, SERVER_PORT);
        await sleep(300);
      }
      expect(out).to.include('"DROPPED"');
    } finally {
      follower.kill();
    }
    const recent = await observe(n1, ['--since', '10m', '--from-pod', `${NS}/client`]);
    expect(recent.length).to.be.greaterThan(0);
    const future = await hubble(sock(n1), ['observe', '-o', 'json', '--since', '2099-01-01T00:00:00Z']);
    expect(future.code, future.stderr).to.equal(0);
    expect(future.stdout.trim()).to.equal('');
  });

  it('hubble status, list nodes, list namespaces and watch peers answer from the agent', async function () {
    const status = await hubble(sock(n1), ['status']);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(/Healthcheck \(via unix:\/\/.*\): Ok/);
    expect(status.stdout).to.match(/Current\/Max Flows: [\d,]+\/4,095/);
    const nodes = await hubble(sock(n1), ['list', 'nodes']);
    expect(nodes.stdout).to.match(new RegExp(`${n1.name}\\s+Connected`));
    const namespaces = await hubble(sock(n1), ['list', 'namespaces']);
    expect(namespaces.stdout).to.include(NS);
    const peers = await runCommand('timeout', ['3', hubbleCli(), 'watch', 'peers', '--server', `unix://${sock(n0)}`], { HUBBLE_CONFIG: '/dev/null' });
    for (const n of [n0, n1]) expect(peers.stdout).to.include(`${n.address}:${HUBBLE_PORT}`);
    expect(peers.stdout).to.include('PEER_ADDED');
  });

  it('the TCP listener serves another node: hubble status from the first node to the second\'s :4244', async function () {
    const r = await runCommand('nsenter', [`--net=/run/netns/${n0.netns}`, hubbleCli(), 'status', '--server', `${n1.address}:${HUBBLE_PORT}`], { HUBBLE_CONFIG: '/dev/null' });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Healthcheck .*: Ok/);
  });

  it('a malformed filter is refused with InvalidArgument naming the field', async function () {
    const r = await hubble(sock(n1), ['observe', '--from-ip', '10.0.0.300']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/InvalidArgument.*source_ip/);
  });
});
