// The local cluster launches its agents as a DaemonSet would: a cilium-config directory the agent
// reads without a warning, node paths as flags, the node name in K8S_NODE_NAME.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAgentFlag } from '../../agent/config/keys.ts';
import { loadAgentConfig } from '../../agent/config/parse.ts';
import { contains } from '../../agent/ipv4.ts';
import { agentInvocation, LOCAL_NATIVE_ROUTING_CIDR, writeAgentConfigDir } from '../../cluster/agent-launch.ts';
import { OPERATOR_POD_CIDR } from '../../cluster/config.ts';
import { CLUSTER_POD_CIDR, nodeConfig } from '../../cluster/node-config.ts';
import { builtToolchain } from '../../cluster/toolchain.ts';
import { parseFlags, readSettingsDir } from '../../runtime/settings.ts';
import { parseAllDocuments } from 'yaml';
import { runCommand } from '../support/cluster.ts';

describe('local cluster agent launch', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'agent-launch-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const node = () => nodeConfig('lc', tmp, { bridge: 'cil-lc', cidr: '172.29.9.0/24', gateway: '172.29.9.1', slot: 9 }, 1);

  it('gives each agent a configuration it reads without warnings', () => {
    const n = node();
    writeAgentConfigDir({ ciliumConfig: { 'cluster-name': 'blue', 'cluster-id': '7' } }, n);
    const launch = agentInvocation(n);
    const { config, warnings } = loadAgentConfig({
      flags: parseFlags(launch.args, isAgentFlag), env: launch.env, readDir: readSettingsDir, hostname: 'not-the-node',
    });
    expect(warnings).to.deep.equal([]);
    expect(config).to.deep.include({
      nodeName: n.name, kubeconfig: n.agentKubeconfig, socketPath: n.socket, stateDir: join(n.dir, 'agent'), cgroupRoot: n.cgroup,
      clusterName: 'blue', clusterId: 7, kubeProxyReplacement: true, autoDirectNodeRoutes: true, hubble: true,
      nativeRoutingCIDR: LOCAL_NATIVE_ROUTING_CIDR, bpfRoot: '/sys/fs/bpf',
    });
  });

  it('routes both pod ranges natively', () => {
    for (const cidr of [CLUSTER_POD_CIDR, OPERATOR_POD_CIDR]) {
      expect(contains(LOCAL_NATIVE_ROUTING_CIDR, cidr.split('/')[0]!), cidr).to.be.true;
      expect(Number(cidr.split('/')[1])).to.be.at.least(Number(LOCAL_NATIVE_ROUTING_CIDR.split('/')[1]));
    }
  });

  it("understands every key of the chart's cilium-config", async function () {
    const bin = await builtToolchain('cluster');
    if (!bin) this.skip();
    const chart = join(import.meta.dirname, '..', '..', 'charts', 'ciliate');
    const r = await runCommand(join(bin!, 'helm'), ['template', 'ciliate', chart, '-n', 'kube-system', '--kube-version', '1.33.0',
      '--set', 'ipam.operator.clusterPoolIPv4PodCIDRList={10.244.0.0/16}', '--set', 'hubble.metrics.enabled={drop:sourceContext=pod;destinationContext=pod,tcp}']);
    expect(r.code, r.stderr).to.equal(0);
    const cm = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> })
      .find((o) => o?.kind === 'ConfigMap' && o.metadata?.name === 'cilium-config');
    expect(cm?.data, 'the rendered cilium-config').to.be.an('object');
    const { config, warnings } = loadAgentConfig({ flags: { 'config-dir': '/cfg' }, env: {}, readDir: () => cm!.data!, hostname: 'n1' });
    expect(warnings).to.deep.equal([]);
    expect(config).to.deep.include({ hubbleMetrics: 'drop:sourceContext=pod;destinationContext=pod tcp', hubbleMetricsServer: { host: '', port: 9965 } });
  });

  it('leaves the BPF filesystem to the host with bpf.autoMount.enabled=false, and rejects a non-boolean naming the value', async function () {
    const bin = await builtToolchain('cluster');
    if (!bin) this.skip();
    const chart = join(import.meta.dirname, '..', '..', 'charts', 'ciliate');
    const template = (value: string) => runCommand(join(bin!, 'helm'), ['template', 'ciliate', chart, '-n', 'kube-system', '--kube-version', '1.33.0', '--set', `bpf.autoMount.enabled=${value}`]);
    const initCommand = (out: string) => (parseAllDocuments(out).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { template: { spec: { initContainers: { command: string[] }[] } } } })
      .find((o) => o?.kind === 'DaemonSet' && o.metadata?.name === 'cilium')?.spec?.template.spec.initContainers[0]?.command ?? []);
    const off = await template('false');
    expect(off.code, off.stderr).to.equal(0);
    expect(initCommand(off.stdout)).to.include('--skip-bpf-mount');
    const on = await template('true');
    expect(initCommand(on.stdout)).to.not.include('--skip-bpf-mount');
    const bad = await template('maybe');
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.contain('/bpf/autoMount/enabled').and.to.contain('want boolean');
  });
});
