/**
 * `ciliate cluster up --install helm`: Ciliate installed on the local cluster as on any other, by
 * `helm install ciliate charts/ciliate -n kube-system`. The agent and operator images
 * (`npm run images`) are built, imported into every node's containerd with the node images, and the
 * chart's values say what the local cluster needs: the apiserver on the bridge (no kube-proxy
 * serves the `kubernetes` Service before the agents do), native routing over the nodes' pod CIDRs,
 * kube-proxy replacement, Hubble and its metrics, the flow log, the operator's pool, and the
 * cluster's `ciliumConfig` overrides.
 */
import { join } from 'node:path';
import { buildImages } from '../images/main.ts';
import { REPO_ROOT } from '../images/repo.ts';
import { run } from '../runtime/exec.ts';
import { FLOW_LOG } from '../agent/flow-log.ts';
import { HUBBLE_METRICS_PORT, LOCAL_HUBBLE_METRICS, LOCAL_NATIVE_ROUTING_CIDR } from './agent-launch.ts';
import { OPERATOR_POD_CIDR, type ClusterConfig } from './config.ts';

/** The chart in this checkout. */
export const CHART_DIR = join(REPO_ROOT, 'charts', 'ciliate');
/** The release name and namespace `up` installs. */
export const RELEASE = { name: 'ciliate', namespace: 'kube-system' } as const;

/** How Ciliate runs on a local cluster's nodes: host processes started by the supervisor, or the Helm chart's pods. */
export type InstallMode = NonNullable<ClusterConfig['install']>;

/** Builds the agent and operator image archives (reproducible, a few seconds) and returns their paths. */
export async function ciliateImageArchives(): Promise<string[]> {
  return (await buildImages(join(REPO_ROOT, 'build', 'images'))).map((i) => i.path);
}

/** The CPU request the local cluster gives the agent and cilium-envoy containers. */
const NODE_PROXY_CPU_REQUEST = '100m';

/** `value` as one `--set` value: commas and backslashes escaped. */
function setValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/,/g, '\\,');
}

/**
 * The `--set` values of the local cluster's release (then `overrides`, as `key=value` strings): the
 * chart's values for what it has values for, and the rest of the local cluster's agent settings
 * (`localCiliumConfig`: the flow log, the Hubble metrics, `ciliumConfig` overrides) as `extraConfig`.
 */
export function localChartValues(c: Pick<ClusterConfig, 'network' | 'ports' | 'nodes' | 'ciliumConfig'>, overrides: string[] = []): string[] {
  const { 'cluster-name': clusterName, ...others } = c.ciliumConfig ?? {};
  const extra = { 'flow-log-path': FLOW_LOG, 'hubble-metrics-server': `:${HUBBLE_METRICS_PORT}`, 'hubble-metrics': LOCAL_HUBBLE_METRICS, ...others };
  return [
    `k8sServiceHost=${c.network.gateway}`, `k8sServicePort=${c.ports.apiserver}`,
    `ipam.operator.clusterPoolIPv4PodCIDRList={${OPERATOR_POD_CIDR}}`,
    'routingMode=native', `ipv4NativeRoutingCIDR=${LOCAL_NATIVE_ROUTING_CIDR}`, 'autoDirectNodeRoutes=true',
    'kubeProxyReplacement=true', 'hubble.enabled=true', 'prometheus.enabled=true',
    // Burstable, not BestEffort: a BestEffort pod gets the kernel's least CPU weight, and the agent
    // (DNS proxy, Hubble) and the HTTP proxy are on the path of the requests they handle.
    `resources.requests.cpu=${NODE_PROXY_CPU_REQUEST}`, `envoy.resources.requests.cpu=${NODE_PROXY_CPU_REQUEST}`,
    ...Object.entries(extra).map(([k, v]) => `extraConfig.${k}=${setValue(v)}`),
    `operator.replicas=${Math.min(2, c.nodes?.length ?? 1)}`,
    ...(clusterName ? [`cluster.name=${clusterName}`] : []),
    ...overrides,
  ];
}

/** Runs `helm <args>` of the cluster's toolchain against its admin kubeconfig. */
export function helm(c: Pick<ClusterConfig, 'binDir' | 'dir'>, args: string[]): Promise<string> {
  return run(join(c.binDir, 'helm'), args, { env: { KUBECONFIG: join(c.dir, 'admin.kubeconfig'), HELM_CACHE_HOME: join(c.dir, 'helm', 'cache'), HELM_CONFIG_HOME: join(c.dir, 'helm', 'config'), HELM_DATA_HOME: join(c.dir, 'helm', 'data') } });
}

/** `helm install` of the chart into kube-system with the local cluster's values; with `wait`, waits for its pods. */
export async function installCiliate(c: ClusterConfig, overrides: string[] = [], wait = true): Promise<void> {
  const sets = localChartValues(c, overrides).flatMap((s) => ['--set', s]);
  await helm(c, ['install', RELEASE.name, CHART_DIR, '-n', RELEASE.namespace, ...sets, ...(wait ? ['--wait', '--timeout', '150s'] : [])]);
}
