/**
 * How the local cluster runs each node's agent, as a Cilium DaemonSet would: the cluster's settings
 * written as a `cilium-config` directory (one file per key, as kubelet mounts a ConfigMap), the
 * node-specific paths as flags, and the node's name in `K8S_NODE_NAME`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_NAME_ENV } from '../agent/config/parse.ts';
import { FLOW_LOG } from '../agent/flow-log.ts';
import type { NodeConfig } from './node-config.ts';
import type { ClusterConfig } from './config.ts';
import { nodeHostDir } from './kubelet-node/mount-ns.ts';

/** Where the local cluster's pods are routed natively: the nodes' 10.244.0.0/16 and the operator's 10.245.0.0/16. */
export const LOCAL_NATIVE_ROUTING_CIDR = '10.244.0.0/15';

/** The `cilium-config` settings of a local cluster's agents (upstream's defaults for the others), then `ciliumConfig`. */
export function localCiliumConfig(c: Pick<ClusterConfig, 'ciliumConfig'>): Record<string, string> {
  return {
    'cluster-name': 'default',
    ipam: 'cluster-pool',
    'routing-mode': 'native',
    'ipv4-native-routing-cidr': LOCAL_NATIVE_ROUTING_CIDR,
    'auto-direct-node-routes': 'true',
    // There is no kube-proxy: the agents serve every Service.
    'kube-proxy-replacement': 'true',
    'enable-hubble': 'true',
    // Each agent runs in its node's network namespace: every node listens on upstream's port.
    'hubble-listen-address': `:${HUBBLE_PORT}`,
    'prometheus-serve-addr': ':9962',
    // The tests' and demos' record of every verdict (cluster/pods.ts readFlows), in each agent's state dir.
    'flow-log-path': FLOW_LOG,
    'hubble-metrics-server': `:${HUBBLE_METRICS_PORT}`,
    'hubble-metrics': LOCAL_HUBBLE_METRICS,
    ...c.ciliumConfig,
  };
}

/** The port of each node's Hubble metrics (upstream's). */
export const HUBBLE_METRICS_PORT = 9965;

/** The Hubble metrics the local cluster's agents serve: every one Ciliate builds, pods as the drop and policy contexts. */
export const LOCAL_HUBBLE_METRICS = 'flow drop:sourceContext=pod;destinationContext=pod tcp port-distribution icmp '
  + 'policy:sourceContext=pod;destinationContext=pod;labelsContext=source_namespace,destination_namespace flows-to-world:port dns:query';

/** The port of each node's Hubble server (upstream's). */
export const HUBBLE_PORT = 4244;

/** The node's Hubble server socket (`hubble-socket-path`); with the chart's agents, upstream's path in the node's own /var/run/cilium. */
export function hubbleSocketPath(node: Pick<NodeConfig, 'dir'>, c: Pick<ClusterConfig, 'install'> = {}): string {
  return c.install === 'helm' ? join(nodeHostDir(node.dir, '/run/cilium'), 'hubble.sock') : join(node.dir, 'hubble.sock');
}

/** The node's agent `state-dir` as the machine sees it: `agent/` in the node's folder, or the node's own /var/run/cilium with the chart's agents. */
export function agentStateDir(node: Pick<NodeConfig, 'dir'>, c: Pick<ClusterConfig, 'install'> = {}): string {
  return c.install === 'helm' ? nodeHostDir(node.dir, '/run/cilium') : join(node.dir, 'agent');
}

/** The node's `cilium-config` directory. */
export function agentConfigDir(node: Pick<NodeConfig, 'dir'>): string {
  return join(node.dir, 'cilium-config');
}

/** Writes the node's `cilium-config` directory afresh from the cluster's settings. */
export function writeAgentConfigDir(c: Pick<ClusterConfig, 'ciliumConfig'>, node: Pick<NodeConfig, 'dir'>): void {
  const dir = agentConfigDir(node);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [key, value] of Object.entries(localCiliumConfig(c))) writeFileSync(join(dir, key), value);
}

/** The agent's flags and environment on `node`: the config directory, its credentials and its node's paths. */
export function agentInvocation(node: NodeConfig): { args: string[]; env: Record<string, string> } {
  return {
    args: [
      `--config-dir=${agentConfigDir(node)}`,
      `--k8s-kubeconfig-path=${node.agentKubeconfig}`,
      `--socket-path=${node.socket}`,
      `--hubble-socket-path=${hubbleSocketPath(node)}`,
      `--state-dir=${agentStateDir(node)}`,
      ...(node.cgroup ? [`--cgroup-root=${node.cgroup}`] : []),
    ],
    env: { [NODE_NAME_ENV]: node.name },
  };
}
