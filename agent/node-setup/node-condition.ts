/**
 * The Node's `NetworkUnavailable` condition, as upstream's agent keeps it: False with reason
 * `CiliumIsUp` once the agent serves the node (it has written the node's CNI configuration), True
 * with reason `NodeSetupFailed` when the agent cannot set the node up. While it is True the node
 * lifecycle controller taints the node `node.kubernetes.io/network-unavailable`, so no pod is
 * scheduled there. Written by a strategic merge patch of the Node's status (conditions merge by type).
 */
import type { KubeRequester } from '../../runtime/kube-request.ts';

/** The condition type. */
export const NETWORK_UNAVAILABLE = 'NetworkUnavailable';
/** Reason of the condition while the agent serves the node (upstream's). */
export const REASON_UP = 'CiliumIsUp';
/** Reason of the condition (and of the Warning Event) when the node cannot be set up. */
export const REASON_SETUP_FAILED = 'NodeSetupFailed';

/** Sets node `nodeName`'s NetworkUnavailable condition: True with `failure` as its message, or False when `failure` is undefined. */
export async function setNetworkUnavailable(request: KubeRequester, nodeName: string, failure: string | undefined): Promise<void> {
  const now = new Date().toISOString();
  const condition = {
    type: NETWORK_UNAVAILABLE, status: failure === undefined ? 'False' : 'True',
    reason: failure === undefined ? REASON_UP : REASON_SETUP_FAILED,
    message: failure ?? 'Ciliate is running on this node',
    lastTransitionTime: now, lastHeartbeatTime: now,
  };
  await request({
    method: 'PATCH', path: `/api/v1/nodes/${encodeURIComponent(nodeName)}/status`,
    contentType: 'application/strategic-merge-patch+json', body: { status: { conditions: [condition] } },
  });
}
