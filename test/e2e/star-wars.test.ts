// The README's demo as a test, on a two-node local cluster with the operator: real kube-apiserver and
// scheduler, real pods in network namespaces wired by ciliate-cni, real BPF enforcement, real TCP.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { podEndpoints } from '../../cluster/pods.ts';
import { readState, alive } from '../../cluster/state.ts';
import { starWarsDemo, type DemoResult } from '../../demo/star-wars.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';
import { echoServer, streamClient } from '../support/tcp-programs.ts';


describe('star-wars demo on a two-node local cluster', function () {
  this.timeout(300_000);
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-e2e-'));
  const name = uniqueClusterName('sw');
  let cluster: RunningCluster;
  let result: DemoResult;
  const kubectl = (...args: string[]) => runCommand(join(cluster.binDir, 'kubectl'), args, { KUBECONFIG: cluster.kubeconfig });

  before(async () => {
    cluster = await up({ name, stateRoot, nodes: 2, operator: true, quiet: true });
  });

  after(async () => {
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('lands both ships, drops the xwing in the kernel under rule1 with reason and identities, restores access after delete', async () => {
    result = await starWarsDemo(name, () => undefined, stateRoot);
    // Per ship: the Service and both deathstar pods.
    expect(result.withoutPolicy.map((l) => l.answer)).to.deep.equal(Array(6).fill('Ship landed'));
    expect(result.withoutPolicy.filter((l) => l.deathstar.startsWith('Service'))).to.have.length(2);
    expect(result.withRule1.filter((l) => l.ship === 'tiefighter').map((l) => l.answer)).to.deep.equal(Array(3).fill('Ship landed'));
    expect(result.withRule1.filter((l) => l.ship === 'xwing').every((l) => l.answer.startsWith('no answer'))).to.equal(true);
    expect(result.withL7.map((l) => l.answer), 'L7 rule1: landing allowed, exhaust port denied').to.deep.equal([...Array(3).fill('Ship landed'), ...Array(3).fill('Access denied')]);
    expect(result.afterDelete.map((l) => l.answer)).to.deep.equal(Array(6).fill('Ship landed'));
    const ids = JSON.parse((await kubectl('get', 'cep', '-o', 'json')).stdout).items as { metadata: { name: string }; status: { identity: { id: number } } }[];
    const idOf = (prefix: string) => ids.find((c) => c.metadata.name.startsWith(prefix))!.status.identity.id;
    expect(result.drops.length).to.be.greaterThan(0);
    for (const d of result.drops) {
      expect(d).to.include({ verdict: 'DROPPED', dropReason: 133, dropReasonDesc: 'Policy denied', srcIdentity: idOf('xwing'), dstIdentity: idOf('deathstar'), dstPort: 80 });
    }
    expect(new Set(result.drops.map((d) => d.node)).size, 'dropped on both nodes').to.equal(2);
  });

  it('shows rule1 Valid=True (operator) and the deathstar enforcing ingress in kubectl get cep -o wide', async () => {
    await kubectl('apply', '-f', join(import.meta.dirname, '..', '..', 'examples', 'star-wars', 'sw_l3_l4_policy.yaml'));
    let cnp = '';
    for (let i = 0; i < 50 && !/rule1\s+\S+\s+True/.test(cnp); i++) {
      await new Promise((r) => setTimeout(r, 200));
      cnp = (await kubectl('get', 'cnp')).stdout;
    }
    expect(cnp).to.match(/rule1\s+\S+\s+True/);
    let cep = '';
    for (let i = 0; i < 50 && !/deathstar\S*\s+\d+\s+ready\s+\S+\s+enforcing/.test(cep); i++) {
      await new Promise((r) => setTimeout(r, 200));
      cep = (await kubectl('get', 'cep', '-o', 'wide')).stdout;
    }
    expect(cep).to.match(/deathstar\S*\s+\d+\s+ready\s+\S+\s+enforcing\s+non-enforcing/);
    expect(cep).to.match(/xwing\s+\d+\s+ready\s+\S+\s+non-enforcing\s+non-enforcing/);
    await kubectl('delete', 'cnp', 'rule1');
  });

  it('loses no connection when an agent restarts during a long transfer, and keeps enforcing while it is down', async () => {
    const pods = podEndpoints((await import('../../cluster/pods.ts')).clusterConfig(name, stateRoot));
    const tie = pods.find((p) => p.name === 'tiefighter')!;
    const xwing = pods.find((p) => p.name === 'xwing')!;
    const ds = pods.filter((p) => p.name.startsWith('deathstar-')).sort((a, b) => Number(a.node === tie.node) - Number(b.node === tie.node))[0]!;
    const policy = {
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'empire-only', namespace: 'default' },
      spec: {
        endpointSelector: { matchLabels: { class: 'deathstar' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { org: 'empire' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }, { port: '9000', protocol: 'TCP' }] }] }],
      },
    };
    await runCommand(join(cluster.binDir, 'kubectl'), ['apply', '-f', '-'], { KUBECONFIG: cluster.kubeconfig }, JSON.stringify(policy));
    const echo = spawn('nsenter', [`--net=${ds.netns}`, 'python3', '-c', echoServer(9000)], { stdio: 'ignore' });
    const curlFromXwing = () => runCommand('nsenter', [`--net=${xwing.netns}`, 'curl', '-s', '-m', '1', '-XPOST', `http://${ds.ip}/v1/request-landing`]);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect((await curlFromXwing()).stdout).to.equal('');
      const stream = spawn('nsenter', [`--net=${tie.netns}`, 'python3', '-c', streamClient(ds.ip, 9000, 200)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      stream.stdout.on('data', (d) => (out += d));
      const done = new Promise<number | null>((r) => stream.on('close', (code) => r(code)));
      await new Promise((r) => setTimeout(r, 800));
      const statePath = clusterPaths(name, stateRoot).state;
      const agent = `agent-${ds.node}`;
      const oldPid = readState(statePath)!.components[agent]!.pid!;
      process.kill(oldPid, 'SIGKILL');
      // While no agent runs on that node, the kernel keeps enforcing the last state.
      for (let i = 0; i < 50 && alive(oldPid); i++) await new Promise((r) => setTimeout(r, 20));
      expect(alive(oldPid), 'the agent is gone').to.equal(false);
      expect((await curlFromXwing()).stdout, 'xwing still dropped while the agent is down').to.equal('');
      expect(await done, 'the stream client finished').to.equal(0);
      expect(out).to.contain('done');
      // The supervisor restarts the agent; the new agent applies policy changes again.
      let restarted = false;
      for (let i = 0; i < 100 && !restarted; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const c = readState(statePath)!.components[agent]!;
        restarted = (c.restarts ?? 0) > 0 && c.phase !== 'exited' && alive(c.pid);
      }
      expect(restarted, 'agent restarted').to.equal(true);
      await runCommand(join(cluster.binDir, 'kubectl'), ['delete', 'cnp', 'empire-only'], { KUBECONFIG: cluster.kubeconfig });
      let answer = '';
      for (let i = 0; i < 40 && answer !== 'Ship landed'; i++) {
        await new Promise((r) => setTimeout(r, 250));
        answer = (await curlFromXwing()).stdout.trim();
      }
      expect(answer, 'the restarted agent applied the policy deletion').to.equal('Ship landed');
    } finally {
      echo.kill('SIGKILL');
    }
  });

  it('keeps enforcing while the apiserver is unreachable, and reconverges when it is back', async () => {
    const pods = podEndpoints((await import('../../cluster/pods.ts')).clusterConfig(name, stateRoot));
    const tie = pods.find((p) => p.name === 'tiefighter')!;
    const xwing = pods.find((p) => p.name === 'xwing')!;
    const ds = pods.find((p) => p.name.startsWith('deathstar-'))!;
    const landFrom = async (p: typeof tie) => (await runCommand('nsenter', [`--net=${p.netns}`, 'curl', '-s', '-m', '1', '-XPOST', `http://${ds.ip}/v1/request-landing`])).stdout.trim();
    const rule1 = join(import.meta.dirname, '..', '..', 'examples', 'star-wars', 'sw_l3_l4_policy.yaml');
    await kubectl('apply', '-f', rule1);
    for (let i = 0; i < 40 && (await landFrom(xwing)) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    const apiserver = readState(clusterPaths(name, stateRoot).state)!.components['kube-apiserver']!.pid!;
    process.kill(apiserver, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(await landFrom(tie), 'tiefighter lands with the apiserver stopped').to.equal('Ship landed');
      expect(await landFrom(xwing), 'xwing dropped with the apiserver stopped').to.equal('');
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    await kubectl('delete', '-f', rule1);
    let answer = '';
    for (let i = 0; i < 60 && answer !== 'Ship landed'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      answer = await landFrom(xwing);
    }
    expect(answer, 'policy deletion applied after the apiserver came back').to.equal('Ship landed');
  });

  it("serves the agents' metrics: work queues, reconciles, drift repairs, and the datapath's drops and forwards", async () => {
    const node = cluster.config.nodes![0]!;
    const r = await runCommand('curl', ['-s', '-m', '5', `http://${node.address}:9962/metrics`]);
    expect(r.stdout).to.contain('workqueue_depth{name="policy-CiliumNetworkPolicy"}');
    expect(r.stdout).to.match(/controller_runtime_reconcile_total\{controller="policy-CiliumNetworkPolicy",result="success"\} [1-9]/);
    expect(r.stdout).to.contain('ciliate_datapath_drift_repairs_total');
    // Upstream's core datapath counters, from the kernel's cilium_metrics map: the xwing's drops under rule1.
    const drops = await runCommand('curl', ['-s', '-m', '5', `http://${cluster.config.nodes![1]!.address}:9962/metrics`]);
    expect(r.stdout + drops.stdout).to.match(/cilium_drop_count_total\{reason="Policy denied",direction="INGRESS"\} [1-9]/);
    expect(r.stdout).to.match(/cilium_forward_count_total\{direction="EGRESS"\} [1-9]/);
  });
});
