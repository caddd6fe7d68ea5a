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

/** A Node condition as the API holds it. */
interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/**
 * Sets node `nodeName`'s NetworkUnavailable condition: True with `failure` as its message, or
 * False when `failure` is undefined. Writes nothing when the Node already says so (an agent
 * restarting in the same state), and keeps the transition time when only the message changes.
 * Resolves whether it wrote.
 */
export async function setNetworkUnavailable(request: KubeRequester, nodeName: string, failure: string | undefined): Promise<boolean> {
  const path = `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
  const node = (await request({ method: 'GET', path })) as { status?: { conditions?: NodeCondition[] } };
  const current = node.status?.conditions?.find((c) => c.type === NETWORK_UNAVAILABLE);
  const now = new Date().toISOString();
  const condition = {
    type: NETWORK_UNAVAILABLE, status: failure === undefined ? 'False' : 'True',
    reason: failure === undefined ? REASON_UP : REASON_SETUP_FAILED,
    message: failure ?? 'Ciliate is running on this node',
  };
  if (current && current.status === condition.status && current.reason === condition.reason && current.message === condition.message) return false;
  const lastTransitionTime = current?.status === condition.status && current.lastTransitionTime ? current.lastTransitionTime : now;
  await request({
    method: 'PATCH', path: `${path}/status`, contentType: 'application/strategic-merge-patch+json',
    body: { status: { conditions: [{ ...condition, lastTransitionTime, lastHeartbeatTime: now }] } },
  });
  return true;
}
