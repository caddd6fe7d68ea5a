import { expect } from 'chai';
import { join } from 'node:path';
import { kubectl, testCluster } from '../support/cluster.ts';

const CHART = join(import.meta.dirname, '..', '..', 'charts', 'ciliate');

describe('Helm chart on the local cluster (real helm)', function () {
  this.timeout(180_000);
  const ns = `helm-${Date.now().toString(36)}`;
  const release = 'ciliate';
  const helm = (args: string[]) => kubectl([...args, '-n', ns], { tool: 'helm' });
  const configMap = async (): Promise<Record<string, string>> => {
    const r = await kubectl(['get', 'configmap', 'cilium-config', '-n', ns, '-o', 'json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout).data;
  };

  before(async () => {
    await testCluster();
  });

  after(async () => {
    await helm(['uninstall', release, '--wait']);
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('rejects bad values before installing anything, naming the value', async () => {
    const r = await helm(['install', release, CHART, '--create-namespace', '--set', 'ipam.mode=cluster-pool-v3']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain('/ipam/mode');
    for (const [set, named] of [['cni.exclusive=maybe', '/cni/exclusive'], ['cni.confPath=etc/cni', '/cni/confPath'], ['updateStrategy.rollingUpdate.maxUnavailable=lots', '/updateStrategy/rollingUpdate/maxUnavailable']]) {
      const bad = await helm(['install', release, CHART, '--create-namespace', '--set', set!]);
      expect(bad.code, set).to.not.equal(0);
      expect(bad.stderr, set).to.contain(named);
    }
    expect((await helm(['list', '-q'])).stdout.trim()).to.equal('');
  });

  it('installs with Cilium value names, rendered into cilium-config', async () => {
    const r = await helm(['install', release, CHART, '--create-namespace', '--set', 'ipam.operator.clusterPoolIPv4PodCIDRList={10.244.0.0/16}',
      '--set', 'ipam.operator.clusterPoolIPv4MaskSize=26', '--set', 'cluster.name=ciliate-test']);
    expect(r.code, r.stderr).to.equal(0);
    const data = await configMap();
    expect(data).to.include({
      'cluster-name': 'ciliate-test', ipam: 'cluster-pool', 'cluster-pool-ipv4-cidr': '10.244.0.0/16',
      'cluster-pool-ipv4-mask-size': '26', 'enable-policy': 'default', 'identity-allocation-mode': 'crd',
      'operator-prometheus-serve-addr': ':9963',
    });
    const ds = await kubectl(['get', 'daemonset', 'cilium', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].command}']);
    expect(ds.stdout).to.equal('localhost/ciliate/ciliate:0.1.0 ["/usr/bin/node","--max-semi-space-size=2","/opt/ciliate/agent.mjs"]');
    const op = await kubectl(['get', 'deployment', 'cilium-operator', '-n', ns, '-o', 'jsonpath={.spec.replicas}']);
    expect(op.stdout).to.equal('2');
    const opImage = await kubectl(['get', 'deployment', 'cilium-operator', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
    expect(opImage.stdout).to.equal('localhost/ciliate/operator-generic:0.1.0');
  });

  it('upgrades, changing the configuration', async () => {
    const r = await helm(['upgrade', release, CHART, '--reuse-values', '--set', 'policyEnforcementMode=always']);
    expect(r.code, r.stderr).to.equal(0);
    expect((await configMap())['enable-policy']).to.equal('always');
    expect((await configMap())['cluster-pool-ipv4-mask-size']).to.equal('26');
  });
});
