// Hubble metrics and the agent's core metrics on the shared two-node cluster of real (kubelet)
// nodes: a client and a friend pod on the first node, a server on the second; a
// CiliumNetworkPolicy denies the client and allows the friend. After allowed TCP, denied TCP and
// ICMP, each node's `hubble-metrics-server` (:9965) and `prometheus-serve-addr` (:9962), scraped
// from inside the node's network namespace, must show upstream's series with the right labels.
import { expect } from 'chai';
import { join } from 'node:path';
import { HUBBLE_METRICS_PORT, hubbleSocketPath } from '../../cluster/agent-launch.ts';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import type { PodEndpoint } from '../../cluster/pods.ts';
import { readState } from '../../cluster/state.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { clientFriendServer, observerClient, SERVER_PORT, type FlowsResponse } from '../support/hubble-pods.ts';

const NS = `hmetrics-${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP connect from inside a network namespace, printing ok or error. */
function connect(netns: string, ip: string, port: number): Promise<string> {
  const program = `
import socket
try:
    s = socket.socket(); s.settimeout(1.5); s.connect(('${ip}', ${port})); s.close(); print('ok')
except Exception as e:
    print('error', type(e).__name__)
`;
  return runCommand('nsenter', [`--net=${netns}`, 'python3', '-c', program]).then((r) => r.stdout.trim());
}

/** `count` TCP connections (connect, close) one after another from inside a network namespace. */
function connections(netns: string, ip: string, port: number, count: number): Promise<unknown> {
  const program = `
import socket
for i in range(${count}):
    try:
        s = socket.socket(); s.settimeout(1.5); s.connect(('${ip}', ${port})); s.close()
    except Exception:
        pass
`;
  return runCommand('nsenter', [`--net=${netns}`, 'python3', '-c', program]);
}

/** UDP datagrams to every port of `ip`, `rounds` times from fresh source ports: each one a new flow. */
function udpSweep(netns: string, ip: string, rounds: number): Promise<unknown> {
  const program = `
import socket
for r in range(${rounds}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for port in range(1, 65536):
        try:
            s.sendto(b'x', ('${ip}', port))
        except OSError:
            pass
    s.close()
`;
  return runCommand('nsenter', [`--net=${netns}`, 'python3', '-c', program]);
}

/** The node's metrics on `port`, fetched from inside its network namespace. */
async function scrape(node: NodeConfig, port: number): Promise<string> {
  const r = await runCommand('nsenter', [`--net=/run/netns/${node.netns}`, 'curl', '-s', '-m', '5', `http://127.0.0.1:${port}/metrics`]);
  expect(r.code, `scrape ${node.name}:${port}: ${r.stderr}`).to.equal(0);
  return r.stdout;
}

/** Samples of `name` whose labels include every `labels` pair, as [labels text, value]. */
function samples(text: string, name: string, labels: Record<string, string> = {}): [string, number][] {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text.split('\n').flatMap((l) => {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(l);
    if (!m || m[1] !== name) return [];
    const lbl = m[2] ?? '';
    return want.every((w) => lbl.includes(w)) ? [[lbl, Number(m[3])] as [string, number]] : [];
  });
}

/** The sum of the matching samples. */
const total = (text: string, name: string, labels: Record<string, string> = {}) => samples(text, name, labels).reduce((a, [, v]) => a + v, 0);

describe('Hubble and agent metrics on real pods', function () {
  this.timeout(900_000);
  let c: RunningCluster;
  let n0: NodeConfig;
  let n1: NodeConfig;
  let client: PodEndpoint;
  let friend: PodEndpoint;
  let server: PodEndpoint;

  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: object) => kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  /** Scrapes until `until` holds (or ~20 s), then returns the last scrape. */
  const scrapeUntil = async (node: NodeConfig, port: number, until: (text: string) => boolean) => {
    let text = '';
    for (let i = 0; i < 40; i++) {
      text = await scrape(node, port);
      if (until(text)) break;
      await sleep(500);
    }
    return text;
  };

  before(async function () {
    c = await testRealNodesCluster();
    [n0, n1] = c.config.nodes as [NodeConfig, NodeConfig];
    await kubectl(['create', 'namespace', NS]);
    ({ client, friend, server } = await clientFriendServer(c, NS, [n0, n1], apply, kubectl));
    await apply({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'server-ingress', namespace: NS },
      spec: {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: 'friend' } }] }],
        ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }],
      },
    });
    let [c1, f1] = ['', ''];
    for (let i = 0; i < 30 && !(c1 !== 'ok' && f1 === 'ok'); i++) {
      [c1, f1] = [await connect(client.netns, server.ip, SERVER_PORT), await connect(friend.netns, server.ip, SERVER_PORT)];
      if (!(c1 !== 'ok' && f1 === 'ok')) await sleep(500);
    }
    expect(c1, 'client denied').to.match(/^error/);
    expect(f1, 'friend allowed').to.equal('ok');
    await kubectl(['exec', '-n', NS, 'friend', '--', 'ping', '-c', '2', '-W', '1', server.ip]);
  });

  after(async function () {
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('the server\'s node counts the denied client in hubble_drop_total and hubble_flows_processed_total, with pod contexts', async function () {
    const drop = { source: `${NS}/client`, destination: `${NS}/server`, reason: 'POLICY_DENY', protocol: 'TCP' };
    const text = await scrapeUntil(n1, HUBBLE_METRICS_PORT, (t) => total(t, 'hubble_drop_total', drop) > 0);
    expect(total(text, 'hubble_drop_total', drop)).to.be.greaterThan(0);
    expect(total(text, 'hubble_flows_processed_total', { protocol: 'TCP', type: 'Drop', subtype: '', verdict: 'DROPPED' })).to.be.greaterThan(0);
    expect(total(text, 'hubble_flows_processed_total', { protocol: 'TCP', type: 'Trace', subtype: 'to-endpoint', verdict: 'FORWARDED' })).to.be.greaterThan(0);
  });

  it('policy verdicts: the friend allowed and the client dropped at the server\'s ingress', async function () {
    const allowed = { direction: 'ingress', action: 'forwarded', source_namespace: NS, destination_namespace: NS, source: `${NS}/friend`, destination: `${NS}/server` };
    const denied = { direction: 'ingress', action: 'dropped', source_namespace: NS, source: `${NS}/client`, destination: `${NS}/server` };
    const text = await scrapeUntil(n1, HUBBLE_METRICS_PORT, (t) => total(t, 'hubble_policy_verdicts_total', allowed) > 0 && total(t, 'hubble_policy_verdicts_total', denied) > 0);
    expect(samples(text, 'hubble_policy_verdicts_total', allowed).map(([l]) => /match="([^"]*)"/.exec(l)![1])).to.include('l3-only');
    expect(total(text, 'hubble_policy_verdicts_total', denied)).to.be.greaterThan(0);
  });

  it('TCP flags, destination ports and ICMP types of the traffic', async function () {
    const text = await scrapeUntil(n0, HUBBLE_METRICS_PORT, (t) => total(t, 'hubble_icmp_total', { type: 'EchoRequest' }) > 0);
    expect(total(text, 'hubble_tcp_flags_total', { flag: 'SYN', family: 'IPv4' })).to.be.greaterThan(0);
    expect(total(text, 'hubble_tcp_flags_total', { flag: 'FIN', family: 'IPv4' })).to.be.greaterThan(0);
    expect(total(text, 'hubble_port_distribution_total', { protocol: 'TCP', port: String(SERVER_PORT) })).to.be.greaterThan(0);
    expect(total(text, 'hubble_icmp_total', { family: 'IPv4', type: 'EchoRequest' })).to.be.greaterThan(0);
    expect(text).to.include('# TYPE hubble_lost_events_total counter');
    expect(text).to.include('# TYPE hubble_flows_to_world_total counter');
  });

  it('the agent\'s :9962 serves upstream\'s core metrics', async function () {
    const text = await scrapeUntil(n1, 9962, (t) => total(t, 'cilium_policy_endpoint_enforcement_status', { enforcement: 'ingress' }) > 0);
    expect(total(text, 'cilium_policy')).to.be.at.least(1);
    expect(total(text, 'cilium_endpoint_state', { endpoint_state: 'ready' })).to.be.at.least(1);
    expect(total(text, 'cilium_identity', { type: 'reserved' })).to.be.greaterThan(0);
    expect(total(text, 'cilium_identity', { type: 'cluster_local' })).to.be.at.least(3);
    expect(total(text, 'cilium_policy_endpoint_enforcement_status', { enforcement: 'ingress' })).to.be.at.least(1);
    expect(total(text, 'cilium_endpoint_regenerations_total', { outcome: 'success' })).to.be.at.least(1);
    expect(total(text, 'cilium_endpoint_regeneration_time_stats_seconds_count', { scope: 'total', status: 'success' })).to.be.at.least(1);
    expect(total(text, 'cilium_drop_count_total', { direction: 'INGRESS' })).to.be.greaterThan(0);
    expect(total(text, 'cilium_forward_count_total')).to.be.greaterThan(0);
  });

  it('a follower that stops reading loses flows: told as lost_events HUBBLE_RING_BUFFER, counted in hubble_lost_events_total', async function () {
    type Response = FlowsResponse;
    const observer = observerClient(hubbleSocketPath(n1));
    const stream = observer.GetFlows({ follow: true, whitelist: [{ source_pod: [`${NS}/friend`] }] });
    stream.on('error', () => undefined); // the cancel at the end
    stream.pause();
    try {
      const lost = () => scrape(n1, HUBBLE_METRICS_PORT).then((t) => total(t, 'hubble_lost_events_total', { source: 'hubble_ring_buffer' }));
      const before = await lost();
      for (let round = 0; round < 5 && (await lost()) === before; round++) await connections(friend.netns, server.ip, SERVER_PORT, 1500);
      expect(await lost()).to.be.greaterThan(before);
      // Reading again, the follower hears how many it lost before its next flow.
      const told = new Promise<Response['lost_events']>((resolve) => stream.on('data', (r: Response) => r.lost_events && resolve(r.lost_events)));
      stream.resume();
      let report: Response['lost_events'];
      for (let i = 0; i < 20 && !report; i++) {
        await connect(friend.netns, server.ip, SERVER_PORT);
        report = await Promise.race([told, sleep(500).then(() => undefined)]);
      }
      expect(report?.source).to.equal('HUBBLE_RING_BUFFER');
      expect(report?.num_events_lost).to.be.greaterThan(0);
    } finally {
      stream.cancel();
      observer.close();
    }
  });

  it('flow events the kernel could not hand over (agent stopped, event buffer full) reach followers as PERF_EVENT_RING_BUFFER and the metric', async function () {
    type Response = FlowsResponse;
    const observer = observerClient(hubbleSocketPath(n1));
    const stream = observer.GetFlows({ follow: true, whitelist: [{ source_pod: [`${NS}/friend`] }] });
    stream.on('error', () => undefined); // the cancel at the end
    const told = new Promise<Response['lost_events']>((resolve) => stream.on('data', (r: Response) => {
      if (r.lost_events?.source === 'PERF_EVENT_RING_BUFFER') resolve(r.lost_events);
    }));
    const perfLost = async () => total(await scrape(n1, HUBBLE_METRICS_PORT), 'hubble_lost_events_total', { source: 'perf_event_ring_buffer' });
    const before = await perfLost();
    // The follower is registered once its flows arrive.
    const first = new Promise((resolve) => stream.once('data', resolve));
    for (let i = 0; i < 20 && !(await Promise.race([first.then(() => true), sleep(300).then(() => false)])); i++) {
      await connect(friend.netns, server.ip, SERVER_PORT);
    }
    const pid = readState(join(c.config.dir, 'state.json'))!.components[`agent-${n1.name}`]!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      // Every datagram of the denied client is a new flow dropped at the server's node: far more
      // events than the kernel's 4 MiB event buffer holds while nobody reads it.
      await udpSweep(client.netns, server.ip, 3);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    try {
      let after = before;
      for (let i = 0; i < 60 && after === before; i++) {
        await sleep(500);
        after = await perfLost();
      }
      expect(after).to.be.greaterThan(before);
      const report = await Promise.race([told, sleep(10_000).then(() => undefined)]);
      expect(report?.num_events_lost).to.be.greaterThan(0);
    } finally {
      stream.cancel();
      observer.close();
    }
  });
});
