/**
 * The agent's configuration from its sources, as upstream merges them: command-line flags over
 * `CILIUM_*` environment variables over the config directory (`--config-dir`, a mounted
 * `cilium-config`) over defaults; the node name from `K8S_NODE_NAME`, else the host name. Pure:
 * the directory reader and the host name are passed in. A value that cannot work throws a
 * {@link ConfigError} naming the setting; anything merely ignored comes back as a warning.
 */
import { isAbsolute, resolve } from 'node:path';
import { isValidRingCapacity } from '../../hubble/ring.ts';
import { parseUpstreamLinger, UPSTREAM_LINGER_SETTING } from '../../envoy/http/upstream-close.ts';
import { LabelFilter } from '../../identity/label-filter.ts';
import type { EnforcementMode } from '../../policy/endpoint-policy.ts';
import {
  ConfigError, parseBool, parseDuration, parseEnum, parseInteger, parseList, parseListenAddress, settingsFromEnv,
} from '../../runtime/settings.ts';
import { intToIp, ipToInt, parsePrefix } from '../ipv4.ts';
import { AGENT_SETTINGS, FIXED_SETTINGS, isAgentFlag, isOtherComponentSetting } from './keys.ts';

/** The environment variable holding the node's name (set by the DaemonSet from spec.nodeName). */
export const NODE_NAME_ENV = 'K8S_NODE_NAME';

/** Largest `bpf-policy-map-max` Ciliate's per-endpoint policy map holds. */
export const POLICY_MAP_CAPACITY = 16384;

/** Pod CIDR sources the agent reads: CiliumNode (cluster-pool) or Node.spec.podCIDRs (kubernetes). */
export type AgentIpamMode = 'cluster-pool' | 'kubernetes';

/** The agent's validated configuration. */
export interface AgentConfig {
  /** `K8S_NODE_NAME`, else the host name. */
  nodeName: string;
  /** `k8s-kubeconfig-path`; undefined: in-cluster credentials (service account). */
  kubeconfig: string | undefined;
  clusterName: string;
  clusterId: number;
  enforcementMode: EnforcementMode;
  ipam: AgentIpamMode;
  /** `ipv4-native-routing-cidr`: destinations inside it are never masqueraded. */
  nativeRoutingCIDR: string | undefined;
  /** `auto-direct-node-routes`: install a route to every other node's pod CIDRs. */
  autoDirectNodeRoutes: boolean;
  masquerade: boolean;
  /** `kube-proxy-replacement`: NodePort/external frontends on the node device and socket-level translation. */
  kubeProxyReplacement: boolean;
  lbAlgorithm: 'random' | 'maglev';
  /** Policy entries allowed per endpoint (`bpf-policy-map-max`, at most {@link POLICY_MAP_CAPACITY}). */
  policyMapMax: number;
  k8sNetworkPolicy: boolean;
  /** `policy-cidr-match-mode` includes pods: NetworkPolicy ipBlocks also select pods by address. */
  cidrMatchesPods: boolean;
  /** `enable-hubble`: the Hubble server and the flow log that `ciliate observe` reads. */
  hubble: boolean;
  /** `hubble-socket-path`: the Hubble server's unix socket. */
  hubbleSocketPath: string;
  /** `hubble-listen-address`; undefined: the unix socket only. */
  hubbleListen: { host: string; port: number } | undefined;
  /** `hubble-event-buffer-capacity`: flows kept (2^n - 1). */
  hubbleEventBufferCapacity: number;
  /** `flow-log-path` (Ciliate's): where every decided flow is appended as a JSON line; undefined: nowhere. */
  flowLogPath: string | undefined;
  /** `hubble-metrics`: the space-separated Hubble metrics to serve (empty: none), parsed by the agent. */
  hubbleMetrics: string;
  /** `hubble-metrics-server`; undefined: no Hubble metrics endpoint. */
  hubbleMetricsServer: { host: string; port: number } | undefined;
  /** `labels`: identity-relevant label patterns added to the defaults. */
  labels: string[];
  /** The DNS proxy and toFQDNs (`tofqdns-*`). */
  fqdn: FqdnConfig;
  /** `external-envoy-proxy`: the HTTP proxy is run apart (a DaemonSet); the agent waits for it on its socket instead of starting it. */
  externalEnvoyProxy: boolean;
  /** `envoy-http-upstream-linger-timeout`: how the HTTP proxy closes upstream connections (envoy/http/upstream-close.ts), seconds. */
  httpUpstreamLingerSeconds: number;
  /** `prometheus-serve-addr`; undefined: no metrics endpoint. */
  prometheus: { host: string; port: number } | undefined;
  /** `ipv4-node`; undefined (`auto`): the Node object's InternalIP. */
  nodeIP: string | undefined;
  bpfRoot: string;
  cgroupRoot: string;
  stateDir: string;
  socketPath: string;
  /** `agent-health-port`: /healthz on 127.0.0.1 (0: none). */
  healthPort: number;
  /** `write-cni-conf-when-ready` (the conflist to write once ready) and `cni-exclusive`; undefined: none. */
  cniConf: { path: string; exclusive: boolean } | undefined;
  debug: boolean;
}

/** The `tofqdns-*` settings. */
export interface FqdnConfig {
  /** `tofqdns-min-ttl`: the least TTL (seconds) an answer's addresses are kept for (0: the answer's). */
  minTtlSeconds: number;
  /** `tofqdns-idle-connection-grace-period` in seconds: how long expired addresses stay. */
  graceSeconds: number;
  /** `tofqdns-endpoint-max-ip-per-hostname`. */
  maxIpsPerName: number;
  /** `tofqdns-dns-reject-response-code`: what denied queries are answered. */
  rejectResponse: 'refused' | 'nameError';
  /** `tofqdns-proxy-response-max-delay` in ms: how long an answer waits for the kernel. */
  responseMaxDelayMs: number;
}

/** Where the settings come from. */
export interface AgentSources {
  /** Command-line arguments after the program name. */
  flags: Readonly<Record<string, string>>;
  env: Readonly<Record<string, string | undefined>>;
  /** Reads the config directory into name → value (every file, known or not). */
  readDir(dir: string): Record<string, string>;
  hostname: string;
}

/** A parsed configuration and what was ignored in it. */
export interface LoadedConfig {
  config: AgentConfig;
  /** One line per ignored or adjusted setting, each naming it. */
  warnings: string[];
}

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** Merges the sources and validates the result. */
export function loadAgentConfig(sources: AgentSources): LoadedConfig {
  const known = [...Object.keys(AGENT_SETTINGS), ...Object.keys(FIXED_SETTINGS)];
  const env = settingsFromEnv(sources.env, known);
  const dirPath = sources.flags['config-dir'] ?? env['config-dir'];
  const dir = dirPath ? sources.readDir(dirPath) : {};
  const warnings: string[] = [];
  for (const name of Object.keys(dir).sort()) {
    if (!isAgentFlag(name) && !isOtherComponentSetting(name)) warnings.push(`unknown setting ${name} in ${dirPath}; ignored`);
  }
  const raw: Record<string, string | undefined> = { ...AGENT_SETTINGS, ...FIXED_SETTINGS, ...dir, ...env, ...sources.flags };
  for (const [name, value] of Object.entries(FIXED_SETTINGS)) {
    if ((raw[name] ?? '').trim() !== value) warnings.push(`setting ${name}=${raw[name]} is not supported by Ciliate (it behaves as ${name}=${value || '""'}); ignored`);
  }
  const nodeName = (sources.env[NODE_NAME_ENV] ?? '').trim() || sources.hostname;
  if (!nodeName) throw new ConfigError(NODE_NAME_ENV, 'the node name is empty (set it from spec.nodeName)');
  return { config: buildAgentConfig(raw, nodeName, warnings), warnings };
}

/** Turns raw string settings into an {@link AgentConfig}, appending to `warnings` what it adjusts. */
export function buildAgentConfig(raw: Readonly<Record<string, string | undefined>>, nodeName: string, warnings: string[] = []): AgentConfig {
  const get = (name: string): string => (raw[name] ?? '').trim();
  const bool = (name: string) => parseBool(name, get(name));
  const path = (name: string) => {
    if (!isAbsolute(get(name))) throw new ConfigError(name, `"${get(name)}" is not an absolute path`);
    return get(name);
  };
  const clusterName = get('cluster-name');
  if (!CLUSTER_NAME.test(clusterName)) {
    throw new ConfigError('cluster-name', `"${clusterName}" must be 1-32 lower-case letters, digits or '-', starting and ending with a letter or digit`);
  }
  requireValue('identity-allocation-mode', get('identity-allocation-mode'), 'crd', 'Ciliate allocates identities as CiliumIdentity objects only (crd)');
  if (!bool('enable-ipv4')) throw new ConfigError('enable-ipv4', 'Ciliate needs IPv4 (its datapath is IPv4-only)');
  if (bool('enable-ipv6')) throw new ConfigError('enable-ipv6', 'IPv6 is not built in Ciliate yet; set it to false');
  requireValue('routing-mode', get('routing-mode'), 'native', 'tunnel mode is not built; Ciliate routes natively (routing-mode=native)');
  const ipam = get('ipam');
  if (ipam !== 'cluster-pool' && ipam !== 'kubernetes') {
    throw new ConfigError('ipam', `mode "${ipam}" is not supported by Ciliate's agent (use cluster-pool or kubernetes)`);
  }
  const kpr = get('kube-proxy-replacement');
  if (['strict', 'partial', 'probe', 'disabled'].includes(kpr)) {
    throw new ConfigError('kube-proxy-replacement', `"${kpr}" was removed upstream (1.16); use true or false`);
  }
  let policyMapMax = parseInteger('bpf-policy-map-max', get('bpf-policy-map-max'), 256, 65536);
  if (policyMapMax > POLICY_MAP_CAPACITY) {
    warnings.push(`setting bpf-policy-map-max=${policyMapMax} is more than Ciliate's policy map holds; using ${POLICY_MAP_CAPACITY}`);
    policyMapMax = POLICY_MAP_CAPACITY;
  }
  const cidrMatchModes = parseList(get('policy-cidr-match-mode'));
  for (const m of cidrMatchModes) {
    if (m === 'nodes') warnings.push('setting policy-cidr-match-mode=nodes is not supported by Ciliate (CIDR selectors do not select nodes; use the host and remote-node entities); ignored');
    else if (m !== 'pods') throw new ConfigError('policy-cidr-match-mode', `"${m}" is not a mode (nodes, pods)`);
  }
  const labels = parseList(get('labels'));
  try {
    new LabelFilter(labels);
  } catch (err) {
    throw new ConfigError('labels', (err as Error).message);
  }
  return {
    nodeName,
    kubeconfig: get('k8s-kubeconfig-path') || undefined,
    clusterName,
    clusterId: parseInteger('cluster-id', get('cluster-id'), 0, 255),
    enforcementMode: parseEnum('enable-policy', get('enable-policy'), ['default', 'always', 'never'] as const),
    ipam,
    nativeRoutingCIDR: get('ipv4-native-routing-cidr') ? ipv4Cidr('ipv4-native-routing-cidr', get('ipv4-native-routing-cidr')) : undefined,
    autoDirectNodeRoutes: bool('auto-direct-node-routes'),
    masquerade: bool('enable-ipv4-masquerade'),
    kubeProxyReplacement: bool('kube-proxy-replacement'),
    lbAlgorithm: parseEnum('bpf-lb-algorithm', get('bpf-lb-algorithm'), ['random', 'maglev'] as const),
    policyMapMax,
    k8sNetworkPolicy: bool('enable-k8s-networkpolicy'),
    cidrMatchesPods: cidrMatchModes.includes('pods'),
    hubble: bool('enable-hubble'),
    hubbleSocketPath: path('hubble-socket-path'),
    hubbleListen: get('hubble-listen-address') ? parseListenAddress('hubble-listen-address', get('hubble-listen-address')) : undefined,
    hubbleEventBufferCapacity: ringCapacity(get('hubble-event-buffer-capacity')),
    flowLogPath: get('flow-log-path') ? resolve(path('state-dir'), get('flow-log-path')) : undefined,
    hubbleMetrics: get('hubble-metrics'),
    hubbleMetricsServer: get('hubble-metrics-server') ? parseListenAddress('hubble-metrics-server', get('hubble-metrics-server')) : undefined,
    labels,
    fqdn: {
      minTtlSeconds: parseInteger('tofqdns-min-ttl', get('tofqdns-min-ttl'), 0, 2 ** 31 - 1),
      graceSeconds: parseDuration('tofqdns-idle-connection-grace-period', get('tofqdns-idle-connection-grace-period')) / 1000,
      maxIpsPerName: parseInteger('tofqdns-endpoint-max-ip-per-hostname', get('tofqdns-endpoint-max-ip-per-hostname'), 1, 2 ** 31 - 1),
      rejectResponse: parseEnum('tofqdns-dns-reject-response-code', get('tofqdns-dns-reject-response-code'), ['refused', 'nameError'] as const),
      responseMaxDelayMs: parseDuration('tofqdns-proxy-response-max-delay', get('tofqdns-proxy-response-max-delay')),
    },
    externalEnvoyProxy: bool('external-envoy-proxy'),
    httpUpstreamLingerSeconds: parseUpstreamLinger(UPSTREAM_LINGER_SETTING, get(UPSTREAM_LINGER_SETTING)),
    prometheus: get('prometheus-serve-addr') ? parseListenAddress('prometheus-serve-addr', get('prometheus-serve-addr')) : undefined,
    nodeIP: get('ipv4-node') === 'auto' || !get('ipv4-node') ? undefined : ipv4Address('ipv4-node', get('ipv4-node')),
    bpfRoot: path('bpf-root'),
    cgroupRoot: path('cgroup-root'),
    stateDir: path('state-dir'),
    socketPath: path('socket-path'),
    healthPort: parseInteger('agent-health-port', get('agent-health-port'), 0, 65535),
    cniConf: get('write-cni-conf-when-ready') ? { path: path('write-cni-conf-when-ready'), exclusive: bool('cni-exclusive') } : undefined,
    debug: bool('debug'),
  };
}

/** `hubble-event-buffer-capacity`: one less than a power of two, at most 65535, as upstream. */
function ringCapacity(text: string): number {
  const n = parseInteger('hubble-event-buffer-capacity', text, 1, 65535);
  if (!isValidRingCapacity(n)) throw new ConfigError('hubble-event-buffer-capacity', `${n} is not one less than a power of two (e.g. 4095)`);
  return n;
}

/** Throws unless `value` is the only one Ciliate supports. */
function requireValue(setting: string, value: string, only: string, why: string): void {
  if (value !== only) throw new ConfigError(setting, `"${value}" is not supported: ${why}`);
}

/** An IPv4 CIDR, with host bits cleared. */
function ipv4Cidr(setting: string, text: string): string {
  try {
    const { base, bits } = parsePrefix(text);
    return `${intToIp(base)}/${bits}`;
  } catch (err) {
    throw new ConfigError(setting, (err as Error).message);
  }
}

/** An IPv4 address. */
function ipv4Address(setting: string, text: string): string {
  try {
    ipToInt(text);
    return text;
  } catch (err) {
    throw new ConfigError(setting, (err as Error).message);
  }
}
