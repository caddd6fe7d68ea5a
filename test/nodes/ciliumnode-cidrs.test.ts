// Pod CIDRs from CiliumNode.spec.ipam.podCIDRs: once the cilium.io CRDs are installed and a
// CiliumNode names CIDRs, its node's new pods get addresses from them and the other nodes route
// them; removing the CiliumNode falls back to Node.spec.podCIDR.
import { expect } from 'chai';
import { contains } from '../../agent/ipv4.ts';
import { run } from '../../runtime/exec.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { nodesKubectl, testRealNodesCluster } from '../support/cluster.ts';
import { apply, commandPod, eventually, finished, getJson, httpClientPod, httpServerPod, nodePodCIDR, type PodJson } from './helpers.ts';

const CIDR = '10.245.1.0/24';

describe('pod CIDRs from CiliumNode', function () {
  this.timeout(180_000);
  const ns = `cn-${Math.random().toString(36).slice(2, 7)}`;
  let nodes: NodeConfig[];

  before(async function () {
    this.timeout(300_000);
    nodes = (await testRealNodesCluster()).config.nodes!;
    for (const args of [['wait', '--for=condition=Established', '--timeout=60s', 'crd/ciliumnodes.cilium.io'], ['create', 'namespace', ns]]) {
      const r = await nodesKubectl(args);
      expect(r.code, r.stderr).to.equal(0);
    }
  });

  after(async () => {
    await nodesKubectl(['delete', 'ciliumnode', nodes[1]!.name, '--ignore-not-found']);
    await nodesKubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('allocates from CiliumNode podCIDRs and routes them from the other node', async () => {
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    await apply({ apiVersion: 'cilium.io/v2', kind: 'CiliumNode', metadata: { name: n1.name }, spec: { ipam: { podCIDRs: [CIDR] } } });
    // The agents look for the CRDs every few seconds, then route the new CIDR.
    await eventually(async () => (await run('ip', ['-n', n0.netns, 'route', 'show', CIDR])).includes(`via ${n1.address}`), `route to ${CIDR} on ${n0.name}`);
    // Pods addressed from the Node's CIDR before stay routed.
    expect(await run('ip', ['-n', n0.netns, 'route', 'show', await nodePodCIDR(n1.name)])).to.contain(`via ${n1.address}`);
    await apply(httpServerPod(ns, 'server', { nodeName: n1.name }));
    const server = await eventually(async () => {
      const p = await getJson<PodJson>(['pod', 'server', '-n', ns]);
      return p?.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, 'server Ready');
    expect(contains(CIDR, server.status!.podIP!), server.status!.podIP).to.be.true;
    await apply(httpClientPod(ns, 'client', `http://${server.status!.podIP}:8080/`, n0.name));
    expect(await finished(ns, 'client')).to.equal('Succeeded');
  });

  it('falls back to Node.spec.podCIDR when the CiliumNode goes away', async () => {
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    const r = await nodesKubectl(['delete', 'ciliumnode', n1.name]);
    expect(r.code, r.stderr).to.equal(0);
    await eventually(async () => !(await run('ip', ['-n', n0.netns, 'route', 'show', CIDR])).trim(), `route to ${CIDR} removed`);
    const n1CIDR = await nodePodCIDR(n1.name);
    expect(await run('ip', ['-n', n0.netns, 'route', 'show', n1CIDR])).to.contain(`via ${n1.address}`);
    await apply(commandPod(ns, 'later', ['sleep', '300'], { nodeName: n1.name }));
    const later = await eventually(async () => {
      const p = await getJson<PodJson>(['pod', 'later', '-n', ns]);
      return p?.status?.podIP ? p : undefined;
    }, 'later has an IP');
    expect(contains(n1CIDR, later.status!.podIP!)).to.be.true;
  });
});
