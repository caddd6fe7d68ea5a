// The running agent takes its settings from its cilium-config: a cluster started with cluster-name
// "blue" and cluster-id 7 gives its pods identities labelled io.cilium.k8s.policy.cluster=blue and
// numbered in cluster 7's range, and the agent names a key it does not know in its log.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { clusterIdOf } from '../../identity/numeric.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';
import { commandPod, eventually } from './helpers.ts';

describe('agent configuration in a running cluster', function () {
  this.timeout(300_000);
  const name = uniqueClusterName('a');
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-agent-config-'));
  let cluster: RunningCluster;
  const kubectl = (args: string[], input?: string) => runCommand(join(cluster.binDir, 'kubectl'), args, { KUBECONFIG: cluster.kubeconfig }, input);

  before(async function () {
    this.timeout(300_000);
    cluster = await up({
      name, stateRoot, nodes: 1, quiet: true,
      ciliumConfig: { 'cluster-name': 'blue', 'cluster-id': '7', 'enable-frobnication': 'true' },
    });
  });

  after(async () => {
    await down({ name, stateRoot, quiet: true }).catch(() => undefined);
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it("labels and numbers identities with the configured cluster, as Cilium does", async () => {
    const node = cluster.config.nodes![0]!;
    const r = await kubectl(['apply', '-f', '-'], JSON.stringify(commandPod('default', 'web', ['sleep', '600'], { nodeName: node.name })));
    expect(r.code, r.stderr).to.equal(0);
    const id = await eventually(async () => {
      const cep = await kubectl(['get', 'ciliumendpoint', 'web', '-o', 'jsonpath={.status.identity.id}']);
      return cep.code === 0 && Number(cep.stdout) > 0 ? Number(cep.stdout) : undefined;
    }, 'the CiliumEndpoint of web with an identity');
    expect(clusterIdOf(id), `identity ${id}`).to.equal(7);
    const obj = await kubectl(['get', 'ciliumidentity', String(id), '-o', 'json']);
    expect(obj.code, obj.stderr).to.equal(0);
    const identity = JSON.parse(obj.stdout) as { 'security-labels': Record<string, string>; metadata: { labels: Record<string, string> } };
    expect(identity['security-labels']).to.include({ 'k8s:io.cilium.k8s.policy.cluster': 'blue', 'k8s:app': 'web' });
    expect(identity.metadata.labels).to.include({ 'io.cilium.k8s.policy.cluster': 'blue' });
  });

  it('names an unknown key of its cilium-config in a warning', () => {
    const log = readFileSync(join(cluster.config.dir, 'logs', `agent-${cluster.config.nodes![0]!.name}.log`), 'utf8');
    const line = log.split('\n').find((l) => l.includes('enable-frobnication'));
    expect(line, 'a log line naming enable-frobnication').to.be.a('string');
    expect(JSON.parse(line!)).to.include({ level: 'warn' });
  });
});
