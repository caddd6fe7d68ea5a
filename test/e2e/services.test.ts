// ClusterIP services end to end on the shared two-node cluster of real (kubelet) nodes: the star-wars app in its own
// namespace; the tiefighter gets DEATHSTAR_SERVICE_HOST, reaches the deathstar through the ClusterIP
// with replies from the service address, connections spread over backends on both nodes, and
// scaling the Deployment removes and adds backends.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { SERVICES_STATE_FILE, type ServiceListRow } from '../../agent/lb-sync.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { flowBackend } from './flow-backend.ts';
import { readFlows } from '../../cluster/pods.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { alive, readState } from '../../cluster/state.ts';

const NS = 'svc-e2e';
const APP = join(import.meta.dirname, '..', '..', 'examples', 'star-wars', 'http-sw-app.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ClusterIP services on a two-node cluster', function () {
  this.timeout(240_000);
  let c: RunningCluster;
  let tie: PodEndpoint;
  let vip = '';
  const kubectl = async (...args: string[]) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pods = () => podEndpoints(c.config).filter((p) => p.namespace === NS);
  /** Live deathstar pod IPs per the API (terminating pods excluded). */
  const deathstars = async () => (JSON.parse(await kubectl('get', 'pods', '-n', NS, '-l', 'class=deathstar', '-o', 'json')).items as
    Array<{ metadata: { deletionTimestamp?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }>)
    .filter((p) => !p.metadata.deletionTimestamp && p.status.podIP && p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'))
    .map((p) => p.status.podIP!).sort();
  /** The backends the tiefighter's node agent wants for the deathstar frontend. */
  const wanted = () => {
    const node = c.config.nodes!.find((n) => n.name === tie.node)!;
    const path = join(node.dir, 'agent', SERVICES_STATE_FILE);
    const rows = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as ServiceListRow[] : [];
    return rows.find((r) => r.service === `${NS}/deathstar`)?.backends.map((b) => b.split(':')[0]!).sort() ?? [];
  };
  const converge = async (want: string[]) => {
    for (let i = 0; i < 150 && JSON.stringify(wanted()) !== JSON.stringify(want); i++) await sleep(200);
    expect(wanted()).to.deep.equal(want);
  };
  /** One request through the ClusterIP: the answer, the peer curl saw, and the backend the kernel chose. */
  const land = async (from: PodEndpoint = tie) => {
    const r = await runCommand('nsenter', [`--net=${from.netns}`, 'curl', '-s', '-m', '3', '-XPOST', '-w', '\n%{remote_ip}:%{remote_port} %{local_port}', `http://${vip}/v1/request-landing`]);
    const cut = r.stdout.lastIndexOf('\n');
    const answer = r.stdout.slice(0, Math.max(cut, 0)).trim() || undefined;
    const [peer, localPort] = r.stdout.slice(cut + 1).split(' ');
    return { answer, peer, backend: localPort === undefined ? undefined : flowBackend(c.config.name, from.node, from.ip, Number(localPort)) };
  };
  const landMany = async (n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await land());
    return out;
  };

  before(async function () {
    c = await testRealNodesCluster();
    await runCommand(join(c.binDir, 'kubectl'), ['create', 'namespace', NS], { KUBECONFIG: c.kubeconfig });
    await kubectl('apply', '-n', NS, '-f', APP);
    await kubectl('wait', '-n', NS, '--for=condition=Ready', 'pod', '-l', 'app.kubernetes.io/name', '--timeout=120s');
    vip = (await kubectl('get', 'svc', '-n', NS, 'deathstar', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    tie = pods().find((p) => p.name === 'tiefighter')!;
  });

  after(async function () {
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it("gives the tiefighter DEATHSTAR_SERVICE_HOST and _PORT, kubelet's Service variables", async function () {
    const env = Object.fromEntries((await kubectl('exec', '-n', NS, 'tiefighter', '--', 'env')).split('\n').filter(Boolean).map((kv) => kv.split(/=(.*)/s, 2) as [string, string]));
    expect(env).to.include({ DEATHSTAR_SERVICE_HOST: vip, DEATHSTAR_SERVICE_PORT: '80' });
  });

  it('reaches the deathstar through its ClusterIP, replies from the service address, spread over backends on both nodes', async function () {
    const ds = await deathstars();
    expect(ds).to.have.length(2);
    expect(new Set(pods().filter((p) => p.name.startsWith('deathstar-')).map((p) => p.node)).size, 'backends on both nodes').to.equal(2);
    await converge(ds);
    const got = await landMany(16);
    for (const g of got) expect(g).to.include({ answer: 'Ship landed', peer: `${vip}:80` });
    expect([...new Set(got.map((g) => g.backend))].sort()).to.deep.equal(ds);
  });

  it('scaling down removes a backend (no new connections to it); scaling up adds one', async function () {
    await kubectl('scale', '-n', NS, 'deployment/deathstar', '--replicas=1');
    let ds = await deathstars();
    for (let i = 0; i < 150 && ds.length !== 1; i++) await sleep(200), ds = await deathstars();
    expect(ds).to.have.length(1);
    await converge(ds);
    for (const g of await landMany(8)) expect(g).to.deep.equal({ answer: 'Ship landed', peer: `${vip}:80`, backend: ds[0] });

    await kubectl('scale', '-n', NS, 'deployment/deathstar', '--replicas=2');
    await kubectl('rollout', 'status', '-n', NS, 'deployment/deathstar', '--timeout=120s');
    for (let i = 0; i < 150 && ds.length !== 2; i++) await sleep(200), ds = await deathstars();
    await converge(ds);
    const got = await landMany(16);
    for (const g of got) expect(g).to.include({ answer: 'Ship landed', peer: `${vip}:80` });
    expect([...new Set(got.map((g) => g.backend))].sort()).to.deep.equal(ds);
  });

  it('applies policy to the backend: egress allowed to the deathstar pods, ingress rule1 dropping the xwing via the ClusterIP', async function () {
    const xwing = pods().find((p) => p.name === 'xwing')!;
    const egress = {
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'tie-egress', namespace: NS },
      spec: {
        endpointSelector: { matchLabels: { class: 'tiefighter' } },
        egress: [{ toEndpoints: [{ matchLabels: { class: 'deathstar' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }],
      },
    };
    const rule1 = join(import.meta.dirname, '..', '..', 'examples', 'star-wars', 'sw_l3_l4_policy.yaml');
    await runCommand(join(c.binDir, 'kubectl'), ['apply', '-f', '-'], { KUBECONFIG: c.kubeconfig }, JSON.stringify(egress));
    await kubectl('apply', '-n', NS, '-f', rule1);
    try {
      let x = await land(xwing);
      for (let i = 0; i < 30 && x.answer; i++) await sleep(200), x = await land(xwing);
      expect(x.answer, 'xwing dropped').to.equal(undefined);
      for (const g of await landMany(4)) expect(g).to.include({ answer: 'Ship landed', peer: `${vip}:80` });
      const ds = await deathstars();
      const drops = readFlows(c.config).filter((f) => f.verdict === 'DROPPED' && f.srcIp === xwing.ip && f.dstPort === 80);
      expect(drops.length).to.be.greaterThan(0);
      for (const d of drops) expect(ds, 'the drop names a backend, not the ClusterIP').to.include(d.dstIp);
    } finally {
      await kubectl('delete', '-n', NS, 'cnp', 'rule1', 'tie-egress');
    }
  });

  it("keeps serving the ClusterIP while the node's agent is down, and after it restarts", async function () {
    const statePath = clusterPaths(c.config.name, dirname(dirname(c.config.dir))).state;
    const agent = `agent-${tie.node}`;
    const before = readState(statePath)!.components[agent]!;
    process.kill(before.pid!, 'SIGKILL');
    for (let i = 0; i < 50 && alive(before.pid); i++) await sleep(20);
    for (const g of await landMany(4)) expect(g).to.include({ answer: 'Ship landed', peer: `${vip}:80` });
    let restarted = false;
    for (let i = 0; i < 100 && !restarted; i++) {
      await sleep(200);
      const now = readState(statePath)!.components[agent]!;
      restarted = (now.restarts ?? 0) > (before.restarts ?? 0) && now.phase !== 'exited' && alive(now.pid);
    }
    expect(restarted, 'agent restarted').to.equal(true);
    const ds = await deathstars();
    for (let i = 0; i < 20; i++) {
      const g = await land();
      expect(g).to.include({ answer: 'Ship landed', peer: `${vip}:80` });
      expect(ds).to.include(g.backend);
      await sleep(100);
    }
    await converge(ds);
  });

  it('shows the service in ciliate service list and bpf lb list', async function () {
    const cli = join(import.meta.dirname, '..', '..', 'bin', 'ciliate');
    const env = { CILIATE_STATE_DIR: dirname(dirname(c.config.dir)) };
    const svc = await runCommand(cli, ['service', 'list', '--name', c.config.name, '--node', tie.node], env);
    expect(svc.stdout, svc.stderr).to.match(new RegExp(`${NS}/deathstar\\s+${vip.replace(/\./g, '\\.')}:80/TCP\\s+ClusterIP\\s+random\\s+\\S+:80/TCP, \\S+:80/TCP`));
    const bpf = await runCommand(cli, ['bpf', 'lb', 'list', '--name', c.config.name, '--node', tie.node], env);
    expect(bpf.stdout, bpf.stderr).to.match(new RegExp(`${vip.replace(/\./g, '\\.')}:80/TCP\\s+external\\s+\\d+\\s+\\S+:80/TCP, \\S+:80/TCP`));
  });
});
