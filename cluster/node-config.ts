/** The settings of a cluster's nodes: names, addresses, pod CIDRs and file locations. */
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_SETTINGS } from '../agent/config/keys.ts';
import { agentPinParent, agentPinRoot } from '../agent/config/paths.ts';
import { nodeCgroup } from './cgroup.ts';
import type { NodeNetwork } from './network.ts';

/** The range per-node pod CIDRs are carved from (one /24 per node) until the operator assigns them. */
export const CLUSTER_POD_CIDR = '10.244.0.0/16';

/**
 * The bpffs folder of one node's pins: where its agent pins them with the default `bpf-root`.
 * Node names carry their cluster's name, so `cluster` only documents the call.
 */
export function nodePinRoot(_cluster: string, node: string): string {
  return agentPinRoot(AGENT_SETTINGS['bpf-root']!, node);
}

/** Removes the pinned maps and links of every node of `cluster` (they outlive agent restarts, not the cluster). */
export function removeClusterPins(cluster: string): void {
  const root = agentPinParent(AGENT_SETTINGS['bpf-root']!);
  for (const name of existsSync(root) ? readdirSync(root) : []) {
    if (isClusterNetns(cluster, name)) rmSync(join(root, name), { recursive: true, force: true });
  }
  try {
    rmdirSync(root); // the shared parent, once no node pins there
  } catch {
    /* other clusters' pins are still there, or it is gone */
  }
}

/** Where the agents' unix sockets live: one root-only folder per node. */
export const AGENT_RUN_ROOT = '/run/ciliate';

/** One simulated node of a local cluster. */
export interface NodeConfig {
  /** Node object name, also its network namespace name: `<cluster>-n<i>`. */
  name: string;
  index: number;
  /** Network namespace name (under /run/netns). */
  netns: string;
  /** The node's address on the cluster bridge, e.g. 172.29.3.10. */
  address: string;
  /** Host-side name of the veth joining the node namespace to the bridge. */
  hostVeth: string;
  /** The fallback pod CIDR written to Node.spec.podCIDR. */
  podCIDR: string;
  /** The node's state folder (kubeconfigs, CNI config, IPAM, pod logs). */
  dir: string;
  /** The agent's CNI socket (mode 0600). */
  socket: string;
  /** Kubeconfig of the node runner (system:node:<name>). */
  kubeconfig: string;
  /** Kubeconfig of the node's agent (group ciliate:agents). */
  agentKubeconfig: string;
  /** Folder holding the node's CNI conflist. */
  cniConfDir: string;
  /** The node's cgroup v2 directory: containers run in it, socket-level service translation attaches to it. */
  cgroup?: string;
  /** False: the node's mount namespace has no BPF filesystem at /sys/fs/bpf, as a host without one (`up`'s `withoutBpffs`). */
  bpffs?: false;
}

/** The prefix shared by every network namespace of a cluster's nodes and pods. */
export function nodeNetnsPrefix(cluster: string): string {
  return `${cluster}-n`;
}

/** Whether `netns` belongs to `cluster`: a node namespace `<cluster>-n<i>` or a pod namespace `<cluster>-n<i>-p<hex>`. */
export function isClusterNetns(cluster: string, netns: string): boolean {
  const prefix = nodeNetnsPrefix(cluster);
  return netns.startsWith(prefix) && /^\d+(-p[0-9a-f]+)?$/.test(netns.slice(prefix.length));
}

/** The configuration of node `index` of `cluster`, whose folder is `clusterDir`. */
export function nodeConfig(cluster: string, clusterDir: string, network: NodeNetwork, index: number): NodeConfig {
  const name = `${nodeNetnsPrefix(cluster)}${index}`;
  const [a, b, c] = network.gateway.split('.');
  const dir = join(clusterDir, 'nodes', name);
  return {
    name, index, netns: name,
    address: `${a}.${b}.${c}.${10 + index}`,
    hostVeth: `cv${c}-${index}`,
    podCIDR: `10.244.${index}.0/24`,
    dir,
    socket: join(AGENT_RUN_ROOT, name, 'agent.sock'),
    kubeconfig: join(dir, 'node.kubeconfig'),
    agentKubeconfig: join(dir, 'agent.kubeconfig'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cgroup: nodeCgroup(cluster, name),
  };
}
