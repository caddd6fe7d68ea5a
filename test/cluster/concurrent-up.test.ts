import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { linkExists } from '../../cluster/network.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { alive, readState } from '../../cluster/state.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';

describe('ciliate cluster up, several at once', function () {
  this.timeout(300_000);
  // Each in its own state root, as separate test runs start them.
  const clusters = Array.from({ length: 3 }, (_, i) => ({
    name: uniqueClusterName(`c${i}`),
    stateRoot: mkdtempSync(join(tmpdir(), 'ciliate-concurrent-')),
  }));
  let running: RunningCluster[] = [];

  before(async () => {
    const started = await Promise.allSettled(clusters.map((c) => up({ ...c, quiet: true })));
    running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.flatMap((s) => (s.status === 'rejected' ? [(s.reason as Error).message] : []));
    if (failed.length) throw new Error(`up failed: ${failed.join('\n')}`);
  });

  after(async () => {
    for (const c of clusters) {
      await down({ ...c, quiet: true });
      rmSync(c.stateRoot, { recursive: true, force: true });
    }
  });

  it('gives each cluster its own node network, bridge address and ports', () => {
    const configs = running.map((r) => r.config);
    const distinct = (values: unknown[]) => new Set(values).size;
    expect(distinct(configs.map((c) => c.network.cidr))).to.equal(clusters.length);
    expect(distinct(configs.map((c) => c.network.gateway))).to.equal(clusters.length);
    expect(distinct(configs.map((c) => c.network.bridge))).to.equal(clusters.length);
    const loopbackPorts = configs.flatMap((c) => [c.ports.loopback, c.ports.etcdClient, c.ports.etcdPeer, c.ports.controllerManager, c.ports.scheduler]);
    expect(distinct(loopbackPorts)).to.equal(loopbackPorts.length);
  });

  it('serves each cluster\'s own API', async () => {
    for (const r of running) {
      const ready = await runCommand(join(r.binDir, 'kubectl'), ['get', '--raw', '/readyz'], { KUBECONFIG: r.kubeconfig });
      expect(ready.stdout, `${r.name}: ${ready.stderr}`).to.equal('ok');
      const { gateway } = r.config.network;
      const direct = await runCommand(join(r.binDir, 'kubectl'), ['--server', `https://${gateway}:${r.config.ports.apiserver}`, 'get', '--raw', '/readyz'], { KUBECONFIG: r.kubeconfig });
      expect(direct.stdout, `${r.name} via ${gateway}: ${direct.stderr}`).to.equal('ok');
    }
  });

  it('down removes every process, file and link of each', async () => {
    for (const r of running) {
      const c = clusters.find((x) => x.name === r.name)!;
      const paths = clusterPaths(c.name, c.stateRoot);
      const state = readState(paths.state)!;
      const pids = [state.supervisorPid, ...Object.values(state.components).map((s) => s.pid!)];
      expect(await down({ ...c, quiet: true })).to.equal(true);
      expect(pids.filter((p) => alive(p))).to.deep.equal([]);
      expect(await linkExists(r.config.network.bridge)).to.equal(false);
      expect(existsSync(paths.dir)).to.equal(false);
    }
  });
});
