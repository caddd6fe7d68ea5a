// The agent's configuration: upstream's keys and defaults, flags over env over the config directory,
// warnings naming ignored settings, and errors naming the setting for what cannot work.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAgentFlag } from '../../agent/config/keys.ts';
import { loadAgentConfig, type AgentSources } from '../../agent/config/parse.ts';
import { agentKubeConfig, SERVICE_ACCOUNT_DIR } from '../../agent/config/credentials.ts';
import { parseFlags, readSettingsDir } from '../../runtime/settings.ts';
import { expectConfigError } from '../support/config-error.ts';

/** Sources with nothing set but what is given; the config directory is `dir` when there is one. */
function sources(o: { argv?: string[]; env?: Record<string, string>; dir?: Record<string, string> } = {}): AgentSources {
  return {
    flags: parseFlags([...(o.dir ? ['--config-dir=/cfg'] : []), ...(o.argv ?? [])], isAgentFlag),
    env: o.env ?? {},
    readDir: (path) => {
      expect(path).to.equal('/cfg');
      return o.dir ?? {};
    },
    hostname: 'host-a',
  };
}

const rejects = expectConfigError;

describe('agent/config', () => {
  it("has upstream's defaults", () => {
    const { config, warnings } = loadAgentConfig(sources());
    expect(warnings).to.deep.equal([]);
    expect(config).to.deep.include({
      nodeName: 'host-a', kubeconfig: undefined, clusterName: 'default', clusterId: 0, enforcementMode: 'default',
      ipam: 'cluster-pool', nativeRoutingCIDR: undefined, autoDirectNodeRoutes: false, masquerade: true,
      kubeProxyReplacement: false, lbAlgorithm: 'random', policyMapMax: 16384, k8sNetworkPolicy: true, hubble: false,
      labels: [], nodeIP: undefined, bpfRoot: '/sys/fs/bpf', cgroupRoot: '/run/cilium/cgroupv2',
      stateDir: '/var/run/cilium', socketPath: '/var/run/cilium/cilium.sock', debug: false, externalEnvoyProxy: false,
      httpUpstreamLingerSeconds: -1,
    });
    expect(config.prometheus).to.deep.equal({ host: '', port: 9962 });
  });

  it('reads a cilium-config directory and takes the node name from K8S_NODE_NAME', () => {
    const { config, warnings } = loadAgentConfig(sources({
      env: { K8S_NODE_NAME: 'worker-1' },
      dir: {
        'cluster-name': 'blue', 'cluster-id': '7', 'enable-policy': 'always', ipam: 'kubernetes', 'routing-mode': 'native',
        'ipv4-native-routing-cidr': '10.244.7.9/16', 'auto-direct-node-routes': 'true', 'kube-proxy-replacement': 'true',
        'bpf-lb-algorithm': 'maglev', 'bpf-policy-map-max': '4096', 'enable-hubble': 'true', 'enable-k8s-networkpolicy': 'false',
        labels: 'k8s:app !k8s:io\\.kubernetes', 'prometheus-serve-addr': '127.0.0.1:19962', 'enable-ipv4-masquerade': 'false',
        'ipv4-node': '172.29.3.10', 'cgroup-root': '/run/x/cg', 'bpf-root': '/sys/fs/bpf/x', 'external-envoy-proxy': 'true',
        'envoy-http-upstream-linger-timeout': '0',
      },
    }));
    expect(warnings).to.deep.equal([]);
    expect(config).to.deep.include({
      nodeName: 'worker-1', clusterName: 'blue', clusterId: 7, enforcementMode: 'always', ipam: 'kubernetes',
      nativeRoutingCIDR: '10.244.0.0/16', autoDirectNodeRoutes: true, kubeProxyReplacement: true, lbAlgorithm: 'maglev',
      policyMapMax: 4096, hubble: true, k8sNetworkPolicy: false, labels: ['k8s:app', '!k8s:io\\.kubernetes'],
      masquerade: false, nodeIP: '172.29.3.10', cgroupRoot: '/run/x/cg', bpfRoot: '/sys/fs/bpf/x', externalEnvoyProxy: true,
      httpUpstreamLingerSeconds: 0,
    });
    expect(config.prometheus).to.deep.equal({ host: '127.0.0.1', port: 19962 });
  });

  it('takes flags over CILIUM_* environment over the directory', () => {
    const dir = { 'cluster-name': 'from-dir', 'cluster-id': '1', 'enable-policy': 'never' };
    const env = { CILIUM_CLUSTER_NAME: 'from-env', CILIUM_CLUSTER_ID: '2', CILIUM_K8S_KUBECONFIG_PATH: '/k/config' };
    const { config } = loadAgentConfig(sources({ dir, env, argv: ['--cluster-name', 'from-flag', '--enable-hubble', '--debug'] }));
    expect(config).to.deep.include({ clusterName: 'from-flag', clusterId: 2, enforcementMode: 'never', kubeconfig: '/k/config', hubble: true, debug: true });
  });

  it('takes the config directory from CILIUM_CONFIG_DIR too', () => {
    const { config } = loadAgentConfig({ ...sources({ dir: { 'cluster-name': 'envdir' } }), flags: {}, env: { CILIUM_CONFIG_DIR: '/cfg' } });
    expect(config.clusterName).to.equal('envdir');
  });

  it('warns about unknown and unsupported keys by name, and is quiet about the operator\'s', () => {
    const { warnings } = loadAgentConfig(sources({
      dir: {
        'enable-bogus-feature': 'true', 'cluster-pool-ipv4-cidr': '10.0.0.0/8', 'identity-gc-interval': '15m',
        'bpf-lb-mode': 'dsr', 'bpf-lb-maglev-table-size': '16381', 'tunnel-protocol': 'geneve',
      },
    }));
    expect(warnings).to.have.length(3);
    expect(warnings[0]).to.match(/^unknown setting enable-bogus-feature in \/cfg; ignored$/);
    expect(warnings.find((w) => w.includes('bpf-lb-mode=dsr'))).to.match(/not supported by Ciliate/);
    expect(warnings.find((w) => w.includes('tunnel-protocol=geneve'))).to.match(/not supported by Ciliate/);
  });

  it('takes the Hubble server settings: socket, listen address, ring capacity (2^n - 1)', () => {
    const { config } = loadAgentConfig(sources({ dir: { 'hubble-listen-address': ':4244', 'hubble-socket-path': '/run/h.sock', 'hubble-event-buffer-capacity': '8191' } }));
    expect(config).to.deep.include({ hubbleListen: { host: '', port: 4244 }, hubbleSocketPath: '/run/h.sock', hubbleEventBufferCapacity: 8191 });
    const defaults = loadAgentConfig(sources({ dir: {} })).config;
    expect(defaults).to.deep.include({ hubbleListen: undefined, hubbleSocketPath: '/var/run/cilium/hubble.sock', hubbleEventBufferCapacity: 4095 });
    expect(() => loadAgentConfig(sources({ dir: { 'hubble-event-buffer-capacity': '4096' } }))).to.throw(/hubble-event-buffer-capacity/);
    expect(() => loadAgentConfig(sources({ dir: { 'hubble-socket-path': 'relative.sock' } }))).to.throw(/hubble-socket-path/);
  });

  it('takes the Hubble metrics settings: the list as written, the server address (default :9965)', () => {
    const { config } = loadAgentConfig(sources({ dir: { 'hubble-metrics': 'drop:sourceContext=pod tcp', 'hubble-metrics-server': '127.0.0.1:19965' } }));
    expect(config).to.deep.include({ hubbleMetrics: 'drop:sourceContext=pod tcp', hubbleMetricsServer: { host: '127.0.0.1', port: 19965 } });
    const defaults = loadAgentConfig(sources({ dir: {} })).config;
    expect(defaults).to.deep.include({ hubbleMetrics: '', hubbleMetricsServer: { host: '', port: 9965 } });
    expect(loadAgentConfig(sources({ dir: { 'hubble-metrics-server': '' } })).config.hubbleMetricsServer).to.equal(undefined);
  });

  it('caps bpf-policy-map-max at what the policy map holds, saying so', () => {
    const { config, warnings } = loadAgentConfig(sources({ dir: { 'bpf-policy-map-max': '65536' } }));
    expect(config.policyMapMax).to.equal(16384);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain('bpf-policy-map-max=65536');
  });

  const invalid: [string, string, RegExp?][] = [
    ['cluster-name', 'Blue_Cluster'],
    ['cluster-name', 'a'.repeat(33)],
    ['cluster-id', '256', /outside 0..255/],
    ['cluster-id', 'x'],
    ['enable-policy', 'sometimes', /default, always, never/],
    ['identity-allocation-mode', 'kvstore', /crd/],
    ['enable-ipv4', 'false'],
    ['enable-ipv6', 'true', /IPv6/],
    ['ipam', 'eni', /cluster-pool or kubernetes/],
    ['routing-mode', 'tunnel', /native/],
    ['ipv4-native-routing-cidr', '10.0.0.0/33'],
    ['auto-direct-node-routes', 'maybe'],
    ['kube-proxy-replacement', 'strict', /true or false/],
    ['kube-proxy-replacement', 'yes-please'],
    ['bpf-lb-algorithm', 'round-robin', /random, maglev/],
    ['bpf-policy-map-max', '100', /256/],
    ['enable-hubble', 'on'],
    ['labels', 'k8s:app[', /label filter pattern/],
    ['prometheus-serve-addr', '9962'],
    ['hubble-metrics-server', '9965'],
    ['ipv4-node', '10.0.0.300'],
    ['bpf-root', 'sys/fs/bpf', /absolute/],
    ['cgroup-root', 'relative/cg'],
    ['state-dir', 'state'],
    ['socket-path', 'agent.sock'],
    ['external-envoy-proxy', 'sometimes'],
    ['envoy-http-upstream-linger-timeout', '-2', /not -1 \(close in the background\), 0 \(reset at once\) or seconds/],
    ['envoy-http-upstream-linger-timeout', '5s'],
    ['envoy-http-upstream-linger-timeout', '9999999'],
  ];
  for (const [key, value, reason] of invalid) {
    it(`rejects ${key}=${value} naming the setting`, () => {
      rejects(() => loadAgentConfig(sources({ dir: { [key]: value } })), key, reason);
    });
  }

  it('rejects an unknown flag and a stray argument', () => {
    rejects(() => parseFlags(['--no-such-flag=1'], isAgentFlag), 'no-such-flag', /unknown flag/);
    rejects(() => parseFlags(['worker-1'], isAgentFlag), 'worker-1');
    rejects(() => parseFlags(['--cluster-pool-ipv4-cidr=10.0.0.0/8'], isAgentFlag), 'cluster-pool-ipv4-cidr');
  });

  it('needs a node name', () => {
    rejects(() => loadAgentConfig({ ...sources(), hostname: '' }), 'K8S_NODE_NAME');
  });
});

describe('agent/config sources on disk', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'agent-config-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads a directory laid out as kubelet mounts a ConfigMap', () => {
    const data = join(tmp, '..2024_01_01_00_00_00.000000001');
    mkdirSync(data);
    writeFileSync(join(data, 'cluster-name'), 'blue\n');
    writeFileSync(join(data, 'enable-policy'), 'always');
    symlinkSync(data, join(tmp, '..data'));
    for (const k of ['cluster-name', 'enable-policy']) symlinkSync(join('..data', k), join(tmp, k));
    expect(readSettingsDir(tmp)).to.deep.equal({ 'cluster-name': 'blue', 'enable-policy': 'always' });
  });

  it('rejects a config directory that is not there, naming config-dir', () => {
    rejects(() => readSettingsDir(join(tmp, 'missing')), 'config-dir');
  });

  it('loads a kubeconfig, or in-cluster credentials from the service account', () => {
    rejects(() => agentKubeConfig(join(tmp, 'nope'), {}), 'k8s-kubeconfig-path', /does not exist/);
    rejects(() => agentKubeConfig(undefined, {}, tmp), 'k8s-kubeconfig-path', /in-cluster/);
    const sa = join(tmp, SERVICE_ACCOUNT_DIR);
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'tok');
    writeFileSync(join(sa, 'ca.crt'), '');
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    Object.assign(process.env, env);
    try {
      const kc = agentKubeConfig(undefined, env, tmp);
      expect(kc.getCurrentCluster()?.server).to.equal('https://10.96.0.1:443');
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
