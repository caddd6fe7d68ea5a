// Nodes and pods on the shared real-nodes cluster (`up --nodes 2`: kubelet + containerd): Node
// registration, the kube-scheduler placing a Deployment's pods, pod addresses from the node's CIDR,
// status, TCP between pods across nodes over native routing, host-network pods, restarts, and the
// teardown of a deleted pod's endpoint: network namespace, host veth and address.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contains } from '../../agent/ipv4.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { nodesKubectl, testRealNodesCluster, TEST_NODES } from '../support/cluster.ts';
import { apply, commandPod, eventually, finished, getJson, httpClientPod, linksIn, nodePodCIDR, SHELL_IMAGE, type PodJson } from './helpers.ts';

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
    const c = await testRealNodesCluster();
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
  /** The agent's record of a pod's endpoint on its node (address, network namespace, host veth), if any. */
  const endpointOf = (node: NodeConfig, pod: string): { ip: string; netns: string; hostIf: string } | undefined => {
    const dir = join(node.dir, 'agent', 'endpoints');
    const records = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8'))) : [];
    return records.find((e: { podNamespace: string; podName: string }) => e.podNamespace === ns && e.podName === pod);
  };

  it('registers every node Ready with its InternalIP, pod CIDR and a Lease', async () => {
    for (const n of nodes) {
      const node = await getJson<NodeJson>(['node', n.name]);
      expect(node, n.name).to.not.equal(undefined);
      expect(node!.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('True');
      expect(node!.status.addresses).to.deep.include({ type: 'InternalIP', address: n.address });
      expect(node!.spec.podCIDR).to.match(/^10\.244\.\d+\.0\/24$/);
      expect(node!.metadata.labels['kubernetes.io/hostname']).to.equal(n.name);
      // The kubelet creates its Lease shortly after it registers the Node.
      const lease = await eventually(() => getJson<{ spec: { holderIdentity?: string; renewTime: string } }>(['lease', '-n', 'kube-node-lease', n.name]), `${n.name}'s Lease`);
      expect(lease.spec.holderIdentity).to.equal(n.name);
      expect(Date.now() - Date.parse(lease.spec.renewTime)).to.be.lessThan(60_000);
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
            containers: [{
              name: 'http', image: SHELL_IMAGE, ports: [{ containerPort: 8080 }],
              command: ['sh', '-c', 'mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www'],
            }],
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
      const cidr = await nodePodCIDR(node.name);
      expect(contains(cidr, p.status!.podIP!), `${p.status!.podIP} in ${cidr}`).to.be.true;
      expect(p.status!.podIPs).to.deep.equal([{ ip: p.status!.podIP }]);
      expect(p.status!.hostIP).to.equal(node.address);
      const cs = p.status!.containerStatuses![0]!;
      expect(cs).to.include({ name: 'http', ready: true, restartCount: 0 });
      expect(cs.state).to.have.property('running');
      const endpoint = endpointOf(node, p.metadata.name);
      expect(endpoint?.ip).to.equal(p.status!.podIP);
      expect(existsSync(endpoint!.netns), 'the pod network namespace').to.equal(true);
    }
    await eventually(async () => (await getJson<{ status: { readyReplicas?: number } }>(['deployment', 'web', '-n', ns]))?.status.readyReplicas === 2, 'deployment ready');
  });

  it('carries TCP between pods on different nodes (native routing over the node network)', async () => {
    const web = await podsWith('app=web');
    for (const client of nodes) {
      const server = web.find((p) => p.spec.nodeName !== client.name)!;
      const name = `client-${client.index}`;
      await apply(httpClientPod(ns, name, `http://${server.status!.podIP}:8080/`, client.name));
      const phase = await finished(ns, name);
      const log = (await nodesKubectl(['logs', '-n', ns, name])).stdout;
      expect(phase, log).to.equal('Succeeded');
      expect(log).to.equal('pong\n');
      const done = await getJson<PodJson>(['pod', name, '-n', ns]);
      expect(contains(await nodePodCIDR(client.name), done!.status!.podIP!)).to.be.true;
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
    expect(endpointOf(node, 'hostnet'), 'no endpoint for a host-network pod').to.equal(undefined);
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
    const endpoint = endpointOf(node, victim!.metadata.name)!;
    const ipamFile = join(node.dir, 'agent', 'ipam.json');
    const hostIf = endpoint.hostIf;
    expect(await linksIn(node.netns)).to.include(hostIf);
    expect(Object.keys(JSON.parse(readFileSync(ipamFile, 'utf8')).allocations)).to.include(victim!.status!.podIP);
    const r = await nodesKubectl(['delete', 'pod', victim!.metadata.name, '-n', ns, '--wait=true', '--timeout=60s']);
    expect(r.code, r.stderr).to.equal(0);
    await eventually(() => !existsSync(endpoint.netns), 'the pod network namespace removed');
    expect(endpointOf(node, victim!.metadata.name)).to.equal(undefined);
    expect(await linksIn(node.netns)).to.not.include(hostIf);
    expect(await getJson<PodJson>(['pod', victim!.metadata.name, '-n', ns])).to.equal(undefined);
    expect(Object.keys(JSON.parse(readFileSync(ipamFile, 'utf8')).allocations)).to.not.include(victim!.status!.podIP);
  });
});
