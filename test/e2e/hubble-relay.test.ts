// The local cluster's Hubble Relay with the real upstream `hubble` CLI, on the shared two-node
// cluster of real (kubelet) nodes: a client and a friend pod on the first node, a server on the
// second, a policy that lets the friend in and denies the client. Through the relay alone: status
// aggregated over both agents, both nodes listed, flows of both nodes merged in time order with
// filters, history and follow; an agent that stops answering (SIGSTOP) is reported unavailable and
// every query still completes.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import type { ClusterState } from '../../cluster/state.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { ensureHubbleCli, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { clientIpProbe } from '../support/tcp-programs.ts';

const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
const BUSYBOX = 'docker.io/library/busybox:1.35';
const PORT = 8080;
const NS = `relay-${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Hubble Relay on real pods: the upstream hubble CLI against the local cluster\'s relay', function () {
  this.timeout(300_000);
  let c: RunningCluster;
  let n0: NodeConfig;
  let n1: NodeConfig;
  let friend: PodEndpoint;
  let client: PodEndpoint;
  let server: PodEndpoint;

  const hubble = (args: string[]) => runCommand(hubbleCli(), [...args, '--server', `127.0.0.1:${c.config.hubbleRelay!.port}`], { HUBBLE_CONFIG: '/dev/null' });
  const flowsOf = (stdout: string) => jsonLines<{ flow?: Flow }>(stdout).flatMap((l) => (l.flow ? [l.flow] : []));
  const inOrder = (fs: Flow[]) => fs.every((f, i) => i === 0 || Date.parse(String(fs[i - 1]!.time)) <= Date.parse(String(f.time)));
  const probe = (from: PodEndpoint) => runCommand('nsenter', [`--net=${from.netns}`, 'python3', '-c', clientIpProbe(server.ip, PORT, 'tcp', 1.5)]).then((r) => r.stdout.trim());
  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** `hubble ARGS` retried (~20 s) until `until` holds of its output. */
  const until = async (args: string[], ok: (stdout: string) => boolean) => {
    let r = await hubble(args);
    for (let i = 0; i < 40 && !(r.code === 0 && ok(r.stdout)); i++) {
      await sleep(500);
      r = await hubble(args);
    }
    return r;
  };

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    c = await testRealNodesCluster();
    if (!c.config.hubbleRelay) throw new Error('the test cluster runs no Hubble Relay');
    [n0, n1] = c.config.nodes as [NodeConfig, NodeConfig];
    await kubectl(['create', 'namespace', NS]);
    const pod = (name: string, node: NodeConfig, container: object) => kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name } }, spec: { nodeName: node.name, containers: [container] },
    }));
    await pod('client', n0, { name: 'c', image: BUSYBOX, command: ['sleep', '3600'] });
    await pod('friend', n0, { name: 'c', image: BUSYBOX, command: ['sleep', '3600'] });
    await pod('server', n1, { name: 's', image: AGNHOST, args: ['netexec', `--http-port=${PORT}`] });
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'server-ingress', namespace: NS },
      spec: { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'friend' } }] }] },
    }));
    await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', 'pod/friend', 'pod/server', '--timeout=180s']);
    const ep = (name: string) => podEndpoints(c.config).find((p) => p.namespace === NS && p.name === name);
    for (let i = 0; i < 50 && !(ep('client') && ep('friend') && ep('server')); i++) await sleep(200);
    [client, friend, server] = [ep('client')!, ep('friend')!, ep('server')!];
    let [fromClient, fromFriend] = ['', ''];
    for (let i = 0; i < 30 && !(fromClient.startsWith('error') && !fromFriend.startsWith('error')); i++) {
      [fromClient, fromFriend] = [await probe(client), await probe(friend)];
    }
    expect(fromFriend, 'friend allowed').to.not.match(/^error/);
    expect(fromClient, 'client denied').to.match(/^error/);
  });

  after(async function () {
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('hubble status aggregates both agents; hubble list nodes shows both connected', async function () {
    const status = await until(['status'], (out) => out.includes('Connected Nodes: 2/2'));
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(/Healthcheck \(via 127\.0\.0\.1:\d+\): Ok/);
    expect(status.stdout).to.match(/Current\/Max Flows: [\d,]+\/8,190/);
    const nodes = await hubble(['list', 'nodes']);
    expect(nodes.stdout).to.match(new RegExp(`${n0.name}\\s+Connected`)).and.match(new RegExp(`${n1.name}\\s+Connected`));
  });

  it('hubble observe: flows of both nodes merged in time order, with --pod, --to-port, --since and -o json', async function () {
    const args = ['observe', '-o', 'json', '--pod', `${NS}/friend`, '--to-port', String(PORT), '--since', '10m'];
    const r = await until(args, (out) => new Set(flowsOf(out).map((f) => f.node_name)).size === 2);
    const flows = flowsOf(r.stdout);
    expect(new Set(flows.map((f) => f.node_name))).to.deep.equal(new Set([n0.name, n1.name]));
    expect(inOrder(flows), 'time order').to.be.true;
    expect(flows.every((f) => f.l4?.TCP?.destination_port === PORT && f.source.pod_name === 'friend')).to.be.true;
  });

  it('--verdict, --type and -n select the denied client\'s drops; --last N is the newest N of the cluster in time order', async function () {
    const drops = flowsOf((await until(['observe', '-o', 'json', '--verdict', 'DROPPED', '--type', 'drop', '-n', NS, '--last', '100'], (out) => flowsOf(out).length > 0)).stdout);
    expect(drops.length).to.be.greaterThan(0);
    expect(drops.every((f) => f.verdict === 'DROPPED' && f.event_type.type === 1 && f.source.pod_name === 'client' && f.node_name === n1.name)).to.be.true;
    const all = flowsOf((await hubble(['observe', '-o', 'json', '-n', NS, '--last', '1000'])).stdout);
    const last = flowsOf((await hubble(['observe', '-o', 'json', '-n', NS, '--last', '3'])).stdout);
    expect(last).to.have.length(3);
    expect(inOrder(all) && inOrder(last)).to.be.true;
    expect(last.map((f) => f.uuid)).to.deep.equal(all.slice(-3).map((f) => f.uuid));
  });

  it('ciliate observe is a relay client: the drop with its reason, the allowed flow with its rule', async function () {
    const observe = (...args: string[]) => runCommand(join(import.meta.dirname, '..', '..', 'bin', 'ciliate'),
      ['observe', '--server', `127.0.0.1:${c.config.hubbleRelay!.port}`, ...args]);
    const drops = await observe('--pod', `${NS}/client`, '--verdict', 'DROPPED', '--last', '5');
    expect(drops.code, drops.stderr).to.equal(0);
    expect(drops.stdout).to.match(new RegExp(`\\[${n1.name}\\]: ${NS}/client:\\d+ \\(ID:\\d+\\) -> ${NS}/server:${PORT} \\(ID:\\d+\\) Policy denied DROPPED \\(TCP Flags: SYN\\): no rule allows it`));
    const allowed = await observe('--pod', `${NS}/friend`, '--verdict', 'FORWARDED', '--last', '200');
    expect(allowed.stdout).to.match(new RegExp(`${NS}/friend:\\d+ .* -> ${NS}/server:${PORT} .*to-endpoint FORWARDED .*by CiliumNetworkPolicy/${NS}/server-ingress`));
  });

  it('--follow streams new flows from both nodes', async function () {
    const follower = spawn(hubbleCli(), ['observe', '--server', `127.0.0.1:${c.config.hubbleRelay!.port}`, '--follow', '-o', 'json', '--from-pod', `${NS}/friend`],
      { env: { ...process.env, HUBBLE_CONFIG: '/dev/null' } });
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    try {
      await sleep(1000);
      for (let i = 0; i < 20 && new Set(flowsOf(out).map((f) => f.node_name)).size < 2; i++) {
        await probe(friend);
        await sleep(500);
      }
      expect(new Set(flowsOf(out).map((f) => f.node_name))).to.deep.equal(new Set([n0.name, n1.name]));
    } finally {
      follower.kill();
    }
  });

  it('an agent that stops answering is unavailable in status and list nodes, and queries still complete', async function () {
    const state = JSON.parse(readFileSync(join(c.config.dir, 'state.json'), 'utf8')) as ClusterState;
    const pid = state.components[`agent-${n1.name}`]!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const status = await until(['status'], (out) => out.includes('Connected Nodes: 1/2'));
      expect(status.stdout).to.include('Connected Nodes: 1/2').and.match(new RegExp(`Unavailable Nodes: 1\\n\\s+- ${n1.name}`));
      const nodes = await until(['list', 'nodes'], (out) => new RegExp(`${n1.name}\\s+Unavailable`).test(out));
      expect(nodes.stdout).to.match(new RegExp(`${n0.name}\\s+Connected`)).and.match(new RegExp(`${n1.name}\\s+Unavailable`));
      const r = await hubble(['observe', '-o', 'json', '-n', NS, '--last', '20']);
      expect(r.code, r.stderr).to.equal(0);
      const flows = flowsOf(r.stdout);
      expect(flows.length).to.be.greaterThan(0);
      expect(flows.every((f) => f.node_name === n0.name)).to.be.true;
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const back = await until(['status'], (out) => out.includes('Connected Nodes: 2/2'));
    expect(back.stdout).to.include('Connected Nodes: 2/2');
  });
});
