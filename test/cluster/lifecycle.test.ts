import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterRunningError, down, status, up, type RunningCluster } from '../../cluster/cluster.ts';
import { linkExists } from '../../cluster/network.ts';
import { readState, alive } from '../../cluster/state.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';

describe('ciliate cluster lifecycle', function () {
  this.timeout(180_000);
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-lifecycle-'));
  const name = uniqueClusterName('l');
  let cluster: RunningCluster;

  before(async () => {
    cluster = await up({ name, stateRoot, quiet: true });
  });

  after(async () => {
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('serves the API on loopback and on the address of its own link', async () => {
    const viaLoopback = await runCommand(join(cluster.binDir, 'kubectl'), ['get', '--raw', '/readyz'], { KUBECONFIG: cluster.kubeconfig });
    expect(viaLoopback.stdout).to.equal('ok');
    expect(await linkExists(cluster.config.network.bridge)).to.equal(true);
    const { gateway } = cluster.config.network;
    const direct = await runCommand(join(cluster.binDir, 'kubectl'), ['--server', `https://${gateway}:${cluster.config.ports.apiserver}`, 'get', '--raw', '/version'], { KUBECONFIG: cluster.kubeconfig });
    expect(JSON.parse(direct.stdout).gitVersion).to.match(/^v1\.33\.\d+$/);
  });

  it('reports itself running, component by component', async () => {
    const s = await status({ name, stateRoot });
    expect(s.running).to.equal(true);
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) expect(s.text).to.match(new RegExp(`${c}\\s+running`));
  });

  it('refuses a second up while it runs', async () => {
    let err: unknown;
    try {
      await up({ name, stateRoot, quiet: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ClusterRunningError);
    expect((err as Error).message).to.contain('already running');
  });

  it('reports a component that died, with its log', async () => {
    const state = readState(clusterPaths(name, stateRoot).state)!;
    const pid = state.components['kube-scheduler']!.pid!;
    process.kill(pid, 'SIGKILL');
    let s = await status({ name, stateRoot });
    for (let i = 0; i < 50 && !s.text.includes('degraded'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await status({ name, stateRoot });
    }
    expect(s.running).to.equal(false);
    expect(s.text).to.match(/kube-scheduler\s+exited \(SIGKILL\)/);
    expect(s.text).to.contain('--- last lines of');
    expect(s.text).to.contain('kube-scheduler.log');
    expect(s.text).to.contain('degraded');
  });

  it('down removes every process, file and link that up made', async () => {
    const paths = clusterPaths(name, stateRoot);
    const state = readState(paths.state)!;
    const pids = [state.supervisorPid, ...Object.values(state.components).map((c) => c.pid!)];
    expect(await down({ name, stateRoot, quiet: true })).to.equal(true);
    expect(pids.filter((p) => alive(p))).to.deep.equal([]);
    expect(await linkExists(cluster.config.network.bridge)).to.equal(false);
    expect(existsSync(paths.dir)).to.equal(false);
    expect(await down({ name, stateRoot, quiet: true })).to.equal(false);
  });
});
