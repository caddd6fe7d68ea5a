// cluster-pool and multi-pool IPAM, and CiliumNode lifecycle, against a real kube-apiserver.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CiliumNode } from '../../crds/types.generated.ts';
import { contains, parsePrefix } from '../../ipam/cidr.ts';
import type { KubeRequester } from '../../runtime/kube.ts';
import { kubectl } from '../support/cluster.ts';
import {
  applyObjects, eventually, httpGet, installCrds, listItems, nodeObject, ok, startOperator, testRequester, type RunningOperator,
} from './support.ts';

const CN_PATH = '/apis/cilium.io/v2/ciliumnodes';

async function ciliumNodes(request: KubeRequester, label: string): Promise<CiliumNode[]> {
  const all = await listItems<CiliumNode>(request, `${CN_PATH}?labelSelector=ciliate-test%3D${label}`);
  return all;
}

function allCidrs(nodes: CiliumNode[]): string[] {
  return nodes.flatMap((n) => n.spec.ipam?.podCIDRs ?? []);
}

async function deleteNodes(label: string): Promise<void> {
  await ok(['delete', 'nodes', '-l', `ciliate-test=${label}`, '--wait=false']);
}

describe('operator IPAM on a real kube-apiserver', function () {
  this.timeout(180_000);
  let request: KubeRequester;

  before(async () => {
    await installCrds();
    request = await testRequester();
  });

  describe('cluster-pool with 50 nodes', () => {
    let op: RunningOperator;
    before(async () => {
      op = await startOperator({ 'cluster-pool-ipv4-cidr': '10.128.0.0/16', 'cluster-pool-ipv4-mask-size': '24' });
    });
    after(async () => {
      await deleteNodes('fifty');
      await eventually('CiliumNodes of deleted nodes removed', async () => (await ciliumNodes(request, 'fifty')).length === 0);
      await op.stop();
    });

    it('creates a CiliumNode per Node and gives each a distinct /24 from the pool', async () => {
      await applyObjects(Array.from({ length: 50 }, (_, i) => nodeObject(`fifty-${String(i).padStart(2, '0')}`, 'fifty')));
      const nodes = await eventually(
        '50 CiliumNodes with podCIDRs',
        async () => {
          const list = await ciliumNodes(request, 'fifty');
          return list.length === 50 && list.every((n) => (n.spec.ipam?.podCIDRs ?? []).length === 1) ? list : undefined;
        },
        60_000,
        500,
      );
      const cidrs = allCidrs(nodes);
      expect(new Set(cidrs).size).to.equal(50);
      const pool = parsePrefix('10.128.0.0/16');
      for (const c of cidrs) {
        expect(contains(pool, parsePrefix(c)), c).to.equal(true);
        expect(parsePrefix(c).bits).to.equal(24);
      }
      const owner = nodes[0]!.metadata?.ownerReferences?.[0];
      expect(owner?.kind).to.equal('Node');
      expect(nodes[0]!.spec.addresses).to.deep.include({ type: 'InternalIP', ip: '192.0.2.10' });
    });

    it('serves cilium_operator_ipam_* metrics and a health endpoint on loopback', async () => {
      // The gauges follow the allocations a moment later (they are refreshed after each reconcile).
      let metrics = await httpGet(await op.operator.metricsPort!, '/metrics');
      for (let i = 0; i < 50 && !/cilium_operator_ipam_ips\{type="used"\} 12800/.test(metrics.body); i++) {
        await new Promise((r) => setTimeout(r, 200));
        metrics = await httpGet(await op.operator.metricsPort!, '/metrics');
      }
      expect(metrics.status).to.equal(200);
      expect(metrics.body).to.match(/cilium_operator_ipam_ip_allocation_ops\{subnet_id="10.128.0.0\/16"\} 50/);
      expect(metrics.body).to.match(/cilium_operator_ipam_ips\{type="used"\} 12800/);
      expect(metrics.body).to.contain('cilium_operator_ipam_nodes{category="total"} ');
      const health = await httpGet(await op.operator.healthPort!, '/healthz');
      expect(health.status).to.equal(200);
      expect(JSON.parse(health.body)).to.deep.equal({ status: 'ok', leader: true });
    });

    it('removes the CiliumNode when its Node is deleted', async () => {
      await ok(['delete', 'node', 'fifty-07']);
      await eventually('CiliumNode fifty-07 removed', async () => !(await ciliumNodes(request, 'fifty')).some((n) => n.metadata?.name === 'fifty-07'));
    });

    it('removes a CiliumNode that has no Node even without an ownerReference', async () => {
      await applyObjects([{ apiVersion: 'cilium.io/v2', kind: 'CiliumNode', metadata: { name: 'fifty-orphan', labels: { 'ciliate-test': 'fifty' } }, spec: {} }]);
      await eventually('orphan CiliumNode removed', async () => !(await ciliumNodes(request, 'fifty')).some((n) => n.metadata?.name === 'fifty-orphan'));
    });
  });

  describe('cluster-pool exhaustion, release and recovery', () => {
    let op: RunningOperator;
    let dir: string;
    const node = (name: string) => async () => (await ciliumNodes(request, 'exh')).find((n) => n.metadata?.name === name);

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ciliate-op-config-'));
      writeFileSync(join(dir, 'cluster-pool-ipv4-cidr'), '10.201.0.0/29\n');
      writeFileSync(join(dir, 'cluster-pool-ipv4-mask-size'), '30\n');
      op = await startOperator({ 'config-dir': dir, 'config-reload-interval': '300ms' });
    });
    after(async () => {
      await deleteNodes('exh');
      await eventually('CiliumNodes removed', async () => (await ciliumNodes(request, 'exh')).length === 0);
      await op.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports exhaustion in operator-status and as a Warning Event', async () => {
      await applyObjects(['exh-a', 'exh-b'].map((n) => nodeObject(n, 'exh')));
      await eventually('two nodes allocated', async () => allCidrs(await ciliumNodes(request, 'exh')).length === 2);
      await applyObjects([nodeObject('exh-c', 'exh')]);
      const c = await eventually('exh-c reports exhaustion', async () => {
        const n = await node('exh-c')();
        return n?.status?.ipam?.['operator-status']?.error ? n : undefined;
      });
      expect(c.status!.ipam!['operator-status']!.error).to.contain('cluster-pool-ipv4-cidr');
      expect(c.spec.ipam?.podCIDRs ?? []).to.deep.equal([]);
      const events = await eventually('a Warning Event about exh-c', async () => {
        const out = JSON.parse(await ok(['get', 'events.events.k8s.io', '-n', 'default', '-o', 'json'])) as {
          items: Array<{ reason?: string; type?: string; regarding?: { name?: string } }>;
        };
        return out.items.find((e) => e.regarding?.name === 'exh-c' && e.reason === 'IPAMAllocationFailed' && e.type === 'Warning');
      });
      expect(events).to.not.equal(undefined);
    });

    it('gives the CIDR of a deleted node to the waiting node', async () => {
      const a = await node('exh-a')();
      const freed = a!.spec.ipam!.podCIDRs![0]!;
      await ok(['delete', 'node', 'exh-a']);
      const c = await eventually('exh-c gets the freed CIDR', async () => {
        const n = await node('exh-c')();
        return n?.spec.ipam?.podCIDRs?.[0] === freed ? n : undefined;
      });
      await eventually('exh-c error cleared', async () => !(await node('exh-c')())?.status?.ipam?.['operator-status']?.error);
      expect(c.spec.ipam!.podCIDRs).to.deep.equal([freed]);
    });

    it('uses a CIDR appended to the configured list (config-dir reload)', async () => {
      await applyObjects([nodeObject('exh-d', 'exh')]);
      await eventually('exh-d reports exhaustion', async () => (await node('exh-d')())?.status?.ipam?.['operator-status']?.error);
      writeFileSync(join(dir, 'cluster-pool-ipv4-cidr'), '10.201.0.0/29 10.202.0.0/29\n');
      const d = await eventually('exh-d allocated from the new CIDR', async () => {
        const n = await node('exh-d')();
        return n?.spec.ipam?.podCIDRs?.length ? n : undefined;
      });
      expect(d.spec.ipam!.podCIDRs![0]).to.equal('10.202.0.0/30');
      await eventually('exh-d error cleared', async () => !(await node('exh-d')())?.status?.ipam?.['operator-status']?.error);
      const cidrs = allCidrs(await ciliumNodes(request, 'exh'));
      expect(new Set(cidrs).size).to.equal(cidrs.length);
    });
  });

  describe('multi-pool', () => {
    let op: RunningOperator;
    const ns = `mp-${Date.now().toString(36)}`;
    const nsBlue = `${ns}-blue`;

    before(async () => {
      await applyObjects([
        ...[['default', '10.210.0.0/16', 26], ['blue', '10.211.0.0/16', 27], ['green', '10.212.0.0/16', 28]].map(([name, cidr, mask]) => ({
          apiVersion: 'cilium.io/v2alpha1',
          kind: 'CiliumPodIPPool',
          metadata: { name },
          spec: { ipv4: { cidrs: [cidr], maskSize: mask } },
        })),
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsBlue, annotations: { 'ipam.cilium.io/ip-pool': 'blue' } } },
        ...['mp-1', 'mp-2', 'mp-3'].map((n) => nodeObject(n, 'mp')),
      ]);
      for (const n of [ns, nsBlue]) await eventually(`service account in ${n}`, async () => (await ok(['get', 'sa', '-n', n, '-o', 'name'])).includes('default'));
      op = await startOperator({ ipam: 'multi-pool' });
    });
    after(async () => {
      await deleteNodes('mp');
      await kubectl(['delete', 'namespace', ns, nsBlue, '--wait=false']);
      await eventually('CiliumNodes removed', async () => (await ciliumNodes(request, 'mp')).length === 0);
      await op.stop();
      await kubectl(['delete', 'ciliumpodippools', 'default', 'blue', 'green', '--ignore-not-found']);
    });

    it('allocates per-node blocks from the pool the pod or namespace annotation selects', async () => {
      const pod = (name: string, namespace: string, node: string, pool?: string) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, ...(pool ? { annotations: { 'ipam.cilium.io/ip-pool': pool } } : {}) },
        spec: { nodeName: node, containers: [{ name: 'c', image: 'registry.invalid/none:1' }] },
      });
      await applyObjects([pod('plain', ns, 'mp-1'), pod('from-ns', nsBlue, 'mp-2'), pod('from-pod', nsBlue, 'mp-3', 'green')]);
      const nodes = await eventually('three nodes with pool allocations', async () => {
        const list = await ciliumNodes(request, 'mp');
        return list.length === 3 && list.every((n) => n.spec.ipam?.pools?.allocated?.length) ? list : undefined;
      });
      const byNode: Record<string, Array<{ pool: string; cidrs?: string[] }>> = Object.fromEntries(
        nodes.map((n) => [n.metadata?.name ?? '', n.spec.ipam!.pools!.allocated!]),
      );
      expect(byNode['mp-1']!.map((a) => a.pool)).to.deep.equal(['default']);
      expect(byNode['mp-2']!.map((a) => a.pool)).to.deep.equal(['blue']);
      expect(byNode['mp-3']!.map((a) => a.pool)).to.deep.equal(['green']);
      expect(contains(parsePrefix('10.210.0.0/16'), parsePrefix(byNode['mp-1']![0]!.cidrs![0]!))).to.equal(true);
      expect(parsePrefix(byNode['mp-2']![0]!.cidrs![0]!).bits).to.equal(27);
      expect(parsePrefix(byNode['mp-3']![0]!.cidrs![0]!).bits).to.equal(28);
    });
  });
});
