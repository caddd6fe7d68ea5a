/**
 * The node's address and device, found rather than configured: the address is `ipv4-node` when set,
 * otherwise the InternalIP of the agent's Node object (waited for until the kubelet registers it);
 * the device is the interface holding that address, and its network bounds the gateways of the
 * agent's routes.
 */
import type { V1Node } from '@kubernetes/client-node';
import { statusCodeOf } from '../runtime/api-errors.ts';
import { realClock, sleep } from '../runtime/clock.ts';
import type { KubeRequester } from '../runtime/kube-request.ts';
import type { Logger } from '../runtime/logger.ts';
import { internalIPOf } from './pod-cidrs.ts';

/** How often the Node object is looked at until it reports an InternalIP. */
const NODE_POLL_MS = 1000;

/** The InternalIP of Node `name`, once it has one; undefined if `signal` aborts first. */
export async function nodeInternalIP(request: KubeRequester, name: string, log: Logger, signal: AbortSignal): Promise<string | undefined> {
  let said = false;
  while (!signal.aborted) {
    let node: V1Node | undefined;
    try {
      node = (await request({ method: 'GET', path: `/api/v1/nodes/${encodeURIComponent(name)}` })) as V1Node;
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
    }
    const ip = internalIPOf(node);
    if (ip) return ip;
    if (!said) log.info('waiting for the Node object to report its InternalIP', { node: name });
    said = true;
    await sleep(realClock, NODE_POLL_MS, signal);
  }
  return undefined;
}
