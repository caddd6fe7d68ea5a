// `down` of a cluster with nodes and running pods removes every namespace, link, process and
// socket folder and pinned BPF object that `up --nodes`, the agents and the node runners made.
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { run } from '../../runtime/exec.ts';
import { linkExists } from '../../cluster/network.ts';
import { isClusterNetns, nodePinRoot } from '../../cluster/node-config.ts';
import { netnsPids } from '../../cluster/nodes.ts';
import { alive } from '../../cluster/state.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';
import { commandPod, eventually, netnsNames } from './helpers.ts';

describe('cluster down with nodes', function () {
  this.timeout(300_000);
  const name = uniqueClusterName('d');
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-down-'));
  let cluster: RunningCluster | undefined;

  after(async () => {
    await down({ name, stateRoot, quiet: true }).catch(() => undefined);
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('leaves no namespace, link, process, socket or pin behind', async () => {
    cluster = await up({ name, stateRoot, nodes: 1, runtime: 'runner', quiet: true });
    const node = cluster.config.nodes![0]!;
    const kubectl = (args: string[], input?: string) => runCommand(join(cluster!.binDir, 'kubectl'), args, { KUBECONFIG: cluster!.kubeconfig }, input);
    const r = await kubectl(['apply', '-f', '-'], JSON.stringify(commandPod('default', 'sleeper', ['sleep', '600'], { nodeName: node.name })));
    expect(r.code, r.stderr).to.equal(0);
    await eventually(async () => (await kubectl(['get', 'pod', 'sleeper', '-o', 'jsonpath={.status.phase}'])).stdout === 'Running', 'sleeper Running');
    const mine = (await netnsNames()).filter((n) => isClusterNetns(name, n));
    expect(mine).to.have.length(2);
    const pids = (await Promise.all(mine.map(netnsPids))).flat();
    expect(pids.length).to.be.greaterThan(0);
    expect(existsSync(nodePinRoot(name, node.name)), 'the agent\'s pins').to.be.true;

    await down({ name, stateRoot, quiet: true });

    expect((await netnsNames()).filter((n) => isClusterNetns(name, n))).to.deep.equal([]);
    expect(pids.filter(alive)).to.deep.equal([]);
    expect(await linkExists(node.hostVeth)).to.be.false;
    expect(await linkExists(cluster.config.network.bridge)).to.be.false;
    expect(existsSync(join('/run/ciliate', node.name))).to.be.false;
    expect(existsSync(nodePinRoot(name, node.name))).to.be.false;
    expect(existsSync(cluster.config.dir)).to.be.false;
    expect(await run('ip', ['route', 'show', 'match', '10.244.0.1'])).to.not.contain('10.244.');
  });
});
