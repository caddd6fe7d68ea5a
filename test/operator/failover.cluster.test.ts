// Two real ciliate-operator processes: leader killed mid-allocation, and bad configuration rejected.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CiliumNode } from '../../crds/types.generated.ts';
import { LEASE_NAME } from '../../operator/operator.ts';
import type { KubeRequester } from '../../runtime/kube.ts';
import { kubectl, testCluster } from '../support/cluster.ts';
import { applyObjects, eventually, httpGet, installCrds, listItems, nodeObject, ok, ROOT, testRequester } from './support.ts';

interface Proc {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function operatorProcess(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'operator', 'main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stderr: () => stderr };
}

describe('ciliate-operator processes on a real kube-apiserver', function () {
  this.timeout(180_000);
  let request: KubeRequester;
  let kubeconfig: string;

  before(async () => {
    await installCrds();
    request = await testRequester();
    kubeconfig = (await testCluster()).kubeconfig;
  });

  describe('failover', () => {
    const ns = `fo-${Date.now().toString(36)}`;
    const procs: Record<string, Proc> = {};
    const label = 'failover';

    before(async () => {
      await ok(['create', 'namespace', ns]);
      const flags = (id: string) => [
        `--k8s-kubeconfig-path=${kubeconfig}`,
        `--k8s-namespace=${ns}`,
        `--operator-id=${id}`,
        '--cluster-pool-ipv4-cidr=10.240.0.0/16',
        '--cluster-pool-ipv4-mask-size=24',
        '--leader-election-lease-duration=4s',
        '--leader-election-renew-deadline=3s',
        '--leader-election-retry-period=300ms',
        '--operator-prometheus-serve-addr=127.0.0.1:0',
        '--operator-api-serve-addr=127.0.0.1:0',
        '--identity-gc-interval=0',
        '--endpoint-gc-interval=0',
      ];
      procs.a = operatorProcess(flags('op-a'));
      procs.b = operatorProcess(flags('op-b'));
    });
    after(async () => {
      for (const p of Object.values(procs)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await Promise.all(Object.values(procs).map((p) => p.exited));
      await ok(['delete', 'nodes', '-l', `ciliate-test=${label}`, '--wait=false']);
      await kubectl(['delete', 'ciliumnodes', '-l', `ciliate-test=${label}`, '--wait=false']);
      await kubectl(['delete', 'namespace', ns, '--wait=false']);
    });

    const holder = async (): Promise<string | undefined> => {
      const lease = (await request({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${LEASE_NAME}` })) as {
        spec?: { holderIdentity?: string };
      };
      return lease.spec?.holderIdentity || undefined;
    };
    const nodes = () => listItems<CiliumNode>(request, `/apis/cilium.io/v2/ciliumnodes?labelSelector=ciliate-test%3D${label}`);

    it('never gives one CIDR to two nodes when the leader is SIGKILLed mid-allocation', async () => {
      const first = await eventually('a leader', holder, 60_000);
      const follower = first === 'op-a' ? 'op-b' : 'op-a';
      const standby = procs[first === 'op-a' ? 'b' : 'a']!;
      const port = await eventually('standby health port', () => /"msg":"health listening".*?"port":(\d+)/.exec(standby.stderr())?.[1]);
      const standbyHealth = async () => JSON.parse((await httpGet(Number(port), '/healthz')).body) as { status: string; leader: boolean };
      const synced = await eventually('standby caches synced', async () => ((await standbyHealth()).status === 'ok' ? standbyHealth() : undefined));
      expect(synced.leader, 'standby is not leading').to.equal(false);
      // Nodes arrive one by one, so the leader is certainly killed while allocating.
      const creating = (async () => {
        for (let i = 0; i < 40; i++) {
          await applyObjects([nodeObject(`fo-${String(i).padStart(2, '0')}`, label)]);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      // Kill as soon as allocation has started but before it has finished.
      const before = await eventually('allocation under way', async () => {
        const n = (await nodes()).filter((x) => x.spec.ipam?.podCIDRs?.length).length;
        return n > 0 ? n : undefined;
      }, 60_000, 20);
      procs[first === 'op-a' ? 'a' : 'b']!.child.kill('SIGKILL');
      await creating;
      await eventually('the follower takes over', async () => (await holder()) === follower, 60_000);
      await eventually('the standby reports leading', async () => (await standbyHealth()).leader);
      await applyObjects(Array.from({ length: 10 }, (_, i) => nodeObject(`fo-late-${i}`, label)));
      const all = await eventually('all 50 nodes allocated', async () => {
        const list = await nodes();
        return list.length === 50 && list.every((x) => x.spec.ipam?.podCIDRs?.length === 1) ? list : undefined;
      }, 60_000, 300);
      const cidrs = all.map((x) => x.spec.ipam!.podCIDRs![0]!);
      expect(new Set(cidrs).size, `duplicates among ${cidrs.join(' ')}`).to.equal(50);
      expect(before, 'killed before allocation finished').to.be.below(40);
    });
  });

  describe('bad configuration', () => {
    const rejected = async (args: string[], env: Record<string, string> = {}) => {
      const p = operatorProcess([`--k8s-kubeconfig-path=${kubeconfig}`, ...args], env);
      const { code } = await p.exited;
      return { code, stderr: p.stderr() };
    };

    it('exits 2 naming the flag that is wrong', async () => {
      const r = await rejected(['--cluster-pool-ipv4-cidr=10.0.0.0/16', '--cluster-pool-ipv4-mask-size=40']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain('cluster-pool-ipv4-mask-size');
    });

    it('names the setting when a config-dir file or CILIUM_ variable is wrong', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ciliate-op-bad-'));
      try {
        writeFileSync(join(dir, 'cluster-pool-ipv4-cidr'), '10.0.0.0/33');
        const fromDir = await rejected([`--config-dir=${dir}`]);
        expect(fromDir.code).to.equal(2);
        expect(fromDir.stderr).to.contain('invalid setting cluster-pool-ipv4-cidr');
        const fromEnv = await rejected(['--cluster-pool-ipv4-cidr=10.0.0.0/16'], { CILIUM_IDENTITY_GC_INTERVAL: 'soon' });
        expect(fromEnv.code).to.equal(2);
        expect(fromEnv.stderr).to.contain('invalid setting identity-gc-interval');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
