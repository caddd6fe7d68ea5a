/**
 * Registering a node and keeping it alive, as kubelet would: create the Node (labels, pod CIDR),
 * report its status (InternalIP, capacity, conditions; Ready only while the CNI plugin's STATUS
 * succeeds) and renew its Lease in kube-node-lease.
 */
import { arch, hostname, release } from 'node:os';
import type { NodeConfig } from '../cluster/node-config.ts';
import { statusCodeOf } from '../runtime/api-errors.ts';
import type { KubeRequester } from '../runtime/kube-request.ts';
import { microTime } from '../runtime/micro-time.ts';

/** Seconds a node's Lease stays valid without renewal. */
export const LEASE_SECONDS = 40;

/** Creates the Node object of `node` (an existing one is kept: its pod CIDR cannot change). */
export async function registerNode(request: KubeRequester, node: NodeConfig): Promise<void> {
  const body = {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name: node.name,
      labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': goArch() },
    },
    spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
  };
  try {
    await request({ method: 'POST', path: '/api/v1/nodes', body });
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
  }
}

/**
 * Writes the node's status; `networkError` (from CNI STATUS) makes it NotReady. `since` is when
 * the conditions last changed (their lastTransitionTime).
 */
export async function reportNodeStatus(request: KubeRequester, node: NodeConfig, networkError: string | undefined, since: string): Promise<void> {
  const now = new Date().toISOString();
  const cond = (type: string, status: string, reason: string, message: string) =>
    ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: since });
  const ready = networkError === undefined;
  const status = {
    addresses: [{ type: 'InternalIP', address: node.address }, { type: 'Hostname', address: node.name }],
    capacity: { cpu: '2', memory: '4Gi', pods: '110', 'ephemeral-storage': '10Gi' },
    allocatable: { cpu: '2', memory: '4Gi', pods: '110', 'ephemeral-storage': '10Gi' },
    conditions: [
      cond('MemoryPressure', 'False', 'RunnerHasSufficientMemory', 'not measured by the ciliate node runner'),
      cond('DiskPressure', 'False', 'RunnerHasNoDiskPressure', 'not measured by the ciliate node runner'),
      cond('PIDPressure', 'False', 'RunnerHasSufficientPID', 'not measured by the ciliate node runner'),
      ready
        ? cond('Ready', 'True', 'RunnerReady', 'ciliate node runner is posting ready status')
        : cond('Ready', 'False', 'NetworkPluginNotReady', `CNI STATUS failed: ${networkError}`),
    ],
    nodeInfo: {
      machineID: node.name, systemUUID: node.name, bootID: String(process.pid), kernelVersion: release(),
      osImage: `ciliate simulated node on ${hostname()}`, containerRuntimeVersion: 'ciliate-runner://0.1.0',
      kubeletVersion: 'v0.0.0-ciliate-runner', kubeProxyVersion: '', operatingSystem: 'linux', architecture: goArch(),
    },
  };
  await request({
    method: 'PATCH', path: `/api/v1/nodes/${node.name}/status`, body: { status },
    contentType: 'application/strategic-merge-patch+json',
  });
}

/** Creates or renews the node's Lease in kube-node-lease. */
export async function renewLease(request: KubeRequester, node: NodeConfig): Promise<void> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases`;
  const spec = { holderIdentity: node.name, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(Date.now()) };
  try {
    await request({ method: 'PATCH', path: `${path}/${node.name}`, body: { spec }, contentType: 'application/merge-patch+json' });
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
    await request({ method: 'POST', path, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: node.name, namespace: 'kube-node-lease' }, spec } });
  }
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch()] ?? arch();
}
