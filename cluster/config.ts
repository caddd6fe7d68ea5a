/** The settings of one local cluster, written by `up` and read by its supervisor. */
import { readFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import type { NodeNetwork } from './network.ts';
import type { NodeConfig } from './node-config.ts';

/** The service ClusterIP range of every local cluster. */
export const SERVICE_CIDR = '10.96.0.0/16';
/** The ClusterIP of the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

/** Everything the supervisor needs to start a cluster's control plane. */
export interface ClusterConfig {
  name: string;
  dir: string;
  binDir: string;
  network: NodeNetwork;
  ports: {
    /** The apiserver's port on the bridge address. */
    apiserver: number;
    /** The loopback port forwarded to the apiserver. */
    loopback: number;
    etcdClient: number;
    etcdPeer: number;
    controllerManager: number;
    scheduler: number;
  };
  serviceCIDR: string;
  /** Simulated nodes (`up --nodes N`); absent or empty for a control plane only. */
  nodes?: NodeConfig[];
  /** What runs the nodes' pods: real kubelets with their own containerd, or the stand-in node runner. */
  nodeRuntime?: NodeRuntime;
  /** OCI image archives imported into every real node's containerd. */
  images?: string[];
  /** Run the agents and the operator from their bundles (build/bundle, as the images do) instead of TypeScript. */
  bundled?: boolean;
  /** The ciliate-operator, when the cluster runs one (`up` from the CLI does). */
  operator?: OperatorSettings;
  /** `cilium-config` settings of the agents over the local cluster's own (e.g. `cluster-name`). */
  ciliumConfig?: Record<string, string>;
  /**
   * The Hubble Relay on the host (clusters with nodes): `listenPort` is the relay's own loopback
   * port (the slot's), `port` where clients reach it (upstream's 4245 when the supervisor could
   * forward it, otherwise `listenPort`).
   */
  hubbleRelay?: { port: number; listenPort: number };
  /** How Ciliate runs on real nodes: host processes (absent, `process`) or the Helm chart's pods (`helm`, each node in its own mount namespace). */
  install?: 'process' | 'helm';
}

/** `kubelet`: real kubelet + containerd nodes; `runner`: the stand-in runner (host processes, no images). */
export type NodeRuntime = 'kubelet' | 'runner';

/** The pool the local cluster's operator hands pod CIDRs from (apart from the nodes' fallback 10.244.0.0/16). */
export const OPERATOR_POD_CIDR = '10.245.0.0/16';

/** How the local cluster runs its operator. */
export interface OperatorSettings {
  clusterPoolIPv4CIDR: string;
  maskSize: number;
  metricsPort: number;
  healthPort: number;
}

/** Writes a JSON file atomically (temporary file, then rename). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, path);
}

/** Reads a JSON file, or returns undefined when it is missing or unreadable. */
export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
