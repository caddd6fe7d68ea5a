// Nodes and pods on a local cluster started with `up --nodes 2`: Node registration, the kube-scheduler
// placing a Deployment's pods, pod addresses from the node's CIDR, status, TCP between pods across
// nodes over native routing, and teardown of a deleted pod's namespace, veth and address.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contains } from '../../agent/ipv4.ts';
import { podNetnsName } from '../../nodes/sandbox.ts';
import { hostIfName } from '../../agent/veth.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { nodesKubectl, testNodesCluster, TEST_NODES } from '../support/cluster.ts';
import { apply, commandPod, eventually, getJson, linksIn, netnsNames, type PodJson } from './helpers.ts';

interface NodeJson {
  metadata: { name: string; labels: Record<string, string> };
  spec: { podCIDR?: string; podCIDRs?: string[]; taints?: unknown[] };
  status: { addresses: { type: string; address: string }[]; conditions: { type: string; status: string }[] };
}

describe('nodes and pods on a local cluster (up --nodes 2)', function () {
  this.timeout(180_000);
  const ns = `nodes-${Math.random().toString(36).slice(2, 7)}`;
  let nodes: NodeConfig[];

  before(async function () {
    this.timeout(300_000);
    const c = await testNodesCluster();
    nodes = c.config.nodes ?? [];
    expect(nodes).to.have.length(TEST_NODES);
    const r = await nodesKubectl(['create', 'namespace', ns]);
    expect(r.code, r.stderr).to.equal(0);
  });

  after(async () => {
    await nodesKubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  });

  const podsWith = async (label: string): Promise<PodJson[]> =>
    (await getJson<{ items: PodJson[] }>(['pods', '-n', ns, '-l', label]))?.items ?? [];
  const nodeOf = (name: string | undefined) => nodes.find((n) => n.name === name)!;

  it('registers every node Ready with its InternalIP, pod CIDR and a Lease', async () => {
    for (const n of nodes) {
      const node = await getJson<NodeJson>(['node', n.name]);
      expect(node, n.name).to.not.equal(undefined);
      expect(node!.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('True');
      expect(node!.status.addresses).to.deep.include({ type: 'InternalIP', address: n.address });
      expect(node!.spec.podCIDR).to.equal(n.podCIDR);
      expect(node!.metadata.labels['kubernetes.io/hostname']).to.equal(n.name);
      const lease = await getJson<{ spec: { holderIdentity: string; renewTime: string } }>(['lease', '-n', 'kube-node-lease', n.name]);
      expect(lease?.spec.holderIdentity).to.equal(n.name);
      expect(Date.now() - Date.parse(lease!.spec.renewTime)).to.be.lessThan(60_000);
    }
  });

  it('runs a Deployment placed by kube-scheduler, with addresses from each node\'s CIDR and full status', async () => {
    await apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2, selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            // Spread over both nodes.
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } }],
            containers: [{ name: 'http', image: 'ignored.invalid/python', command: ['python3', '-m', 'http.server', '8080'], ports: [{ containerPort: 8080 }] }],
          },
        },
      },
    });
    const pods = await eventually(async () => {
      const p = await podsWith('app=web');
      return p.length === 2 && p.every((x) => x.status?.phase === 'Running' && x.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? p : undefined;
    }, 'two Running web pods');
    expect(new Set(pods.map((p) => p.spec.nodeName))).to.have.length(2);
    for (const p of pods) {
      const node = nodeOf(p.spec.nodeName);
      expect(contains(node.podCIDR, p.status!.podIP!), `${p.status!.podIP} in ${node.podCIDR}`).to.be.true;
      expect(p.status!.podIPs).to.deep.equal([{ ip: p.status!.podIP }]);
      expect(p.status!.hostIP).to.equal(node.address);
      const cs = p.status!.containerStatuses![0]!;
      expect(cs).to.include({ name: 'http', ready: true, restartCount: 0 });
      expect(cs.state).to.have.property('running');
      expect(await netnsNames()).to.include(podNetnsName(node.netns, p.metadata.uid));
    }
    await eventually(async () => (await getJson<{ status: { readyReplicas?: number } }>(['deployment', 'web', '-n', ns]))?.status.readyReplicas === 2, 'deployment ready');
  });

  it('carries TCP between pods on different nodes (native routing over the node network)', async () => {
    const web = await podsWith('app=web');
    for (const client of nodes) {
      const server = web.find((p) => p.spec.nodeName !== client.name)!;
      const name = `client-${client.index}`;
      const script = `import urllib.request; r = urllib.request.urlopen("http://${server.status!.podIP}:8080/", timeout=10); print("status", r.status); assert r.status == 200`;
      await apply(commandPod(ns, name, ['python3', '-c', script], { nodeName: client.name, restartPolicy: 'Never' }));
      const done = await eventually(async () => {
        const p = await getJson<PodJson>(['pod', name, '-n', ns]);
        return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p : undefined;
      }, `${name} to finish`);
      const log = readFileSync(join(client.dir, 'pods', `${ns}_${name}_${done.metadata.uid}`, 'main.log'), 'utf8');
      expect(done.status!.phase, log).to.equal('Succeeded');
      expect(log).to.contain('status 200');
      expect(contains(client.podCIDR, done.status!.podIP!)).to.be.true;
    }
  });

  it('runs host-network pods in the node namespace with the node address', async () => {
    const node = nodes[0]!;
    const pod = commandPod(ns, 'hostnet', ['sleep', '300'], { nodeName: node.name }) as { spec: Record<string, unknown> };
    pod.spec.hostNetwork = true;
    await apply(pod);
    const p = await eventually(async () => {
      const x = await getJson<PodJson>(['pod', 'hostnet', '-n', ns]);
      return x?.status?.phase === 'Running' ? x : undefined;
    }, 'host-network pod Running');
    expect(p.status!.podIP).to.equal(node.address);
    expect(await netnsNames()).to.not.include(podNetnsName(node.netns, p.metadata.uid));
  });

  it('restarts a failing container under restartPolicy Always and counts restarts', async () => {
    await apply(commandPod(ns, 'crasher', ['sh', '-c', 'sleep 0.2; exit 3'], { nodeName: nodes[1]!.name }));
    const p = await eventually(async () => {
      const x = await getJson<PodJson>(['pod', 'crasher', '-n', ns]);
      return (x?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? x : undefined;
    }, 'a restart');
    expect(p.status!.phase).to.equal('Running');
  });

  it('tears down a deleted pod: processes, network namespace, host veth and address, then the Pod object', async () => {
    const [victim] = await podsWith('app=web');
    const node = nodeOf(victim!.spec.nodeName);
    const podNs = podNetnsName(node.netns, victim!.metadata.uid);
    const ipamFile = join(node.dir, 'agent', 'ipam.json');
    const hostIf = hostIfName(`${victim!.metadata.uid}/eth0`);
    expect(await linksIn(node.netns)).to.include(hostIf);
    expect(Object.keys(JSON.parse(readFileSync(ipamFile, 'utf8')).allocations)).to.include(victim!.status!.podIP);
    const r = await nodesKubectl(['delete', 'pod', victim!.metadata.name, '-n', ns, '--wait=true', '--timeout=60s']);
    expect(r.code, r.stderr).to.equal(0);
    expect(await netnsNames()).to.not.include(podNs);
    expect(await linksIn(node.netns)).to.not.include(hostIf);
    expect(await getJson<PodJson>(['pod', victim!.metadata.name, '-n', ns])).to.equal(undefined);
    expect(Object.keys(JSON.parse(readFileSync(ipamFile, 'utf8')).allocations)).to.not.include(victim!.status!.podIP);
  });
});
