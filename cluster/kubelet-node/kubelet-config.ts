/**
 * A node's KubeletConfiguration: its own root, pod log folder and cgroup root, listening on the
 * node's address inside its network namespace, cgroupfs driver (this machine runs cgroup v1), and
 * eviction thresholds small enough for a test machine's disk.
 */
import { stringify } from 'yaml';
import { nodeCgroupRoot, type RuntimePaths } from './paths.ts';

/** The ClusterIP of the `kube-dns` Service pods resolve names through. */
export const CLUSTER_DNS_IP = '10.96.0.10';

/** What the kubelet configuration depends on. */
export interface KubeletSettings {
  node: string;
  address: string;
  clientCA: string;
}

/** The YAML of a node's KubeletConfiguration. */
export function kubeletConfig(s: KubeletSettings, p: RuntimePaths): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: s.address,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: nodeCgroupRoot(s.node),
    cgroupsPerQOS: true,
    failSwapOn: false,
    podLogsDir: p.podLogs,
    // Pods get the cluster DNS (dnsPolicy ClusterFirst) or nothing; never the machine's resolvers.
    resolvConf: '',
    clusterDomain: 'cluster.local',
    clusterDNS: [CLUSTER_DNS_IP],
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: s.clientCA } },
    authorization: { mode: 'Webhook' },
    serializeImagePulls: false,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    maxPods: 110,
    syncFrequency: '10s',
    fileCheckFrequency: '60s',
    nodeStatusReportFrequency: '1m',
  });
}
