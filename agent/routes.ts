/**
 * Native routing between nodes (`auto-direct-node-routes`): in this node's namespace, one route per
 * other node's pod CIDR (from its CiliumNode and its Node) via that node's InternalIP, out of the
 * device holding this node's address. Routes carry protocol number
 * {@link ROUTE_PROTO} so the agent only ever touches its own. A gateway outside the node network
 * or a default-route destination is refused, so nothing can point toward an uplink.
 */
import type { V1Node } from '@kubernetes/client-node';
import { run } from '../runtime/exec.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import { contains, parsePrefix } from './ipv4.ts';
import { internalIPOf, routedCIDRsOf, type CiliumNodeLike } from './pod-cidrs.ts';

/** The part of a cache the pod CIDR lookups read. */
export type Lookup<T> = Pick<CacheReader<T>, 'get' | 'list'>;

/** The routing protocol number tagging the agent's routes. */
export const ROUTE_PROTO = '199';

/** How often routes are re-checked even without changes. */
const RECHECK_MS = 30_000;

/** Desired routes: destination CIDR → gateway. */
export function desiredRoutes(self: string, nodeNetwork: string, nodes: CacheReader<V1Node>, ciliumNodes?: Lookup<CiliumNodeLike>): Map<string, string> {
  const out = new Map<string, string>();
  for (const node of nodes.list()) {
    const name = node.metadata?.name;
    const via = internalIPOf(node);
    if (!name || name === self || !via || !contains(nodeNetwork, via)) continue;
    for (const cidr of routedCIDRsOf(name, nodes, ciliumNodes)) {
      if (parsePrefix(cidr).bits === 0 || contains(nodeNetwork, cidr.split('/')[0]!)) continue;
      out.set(cidr, via);
    }
  }
  return out;
}

/** The agent's routes now in the kernel: destination → gateway. */
async function installedRoutes(): Promise<Map<string, string>> {
  const rows = JSON.parse(await run('ip', ['-j', 'route', 'show', 'proto', ROUTE_PROTO])) as { dst: string; gateway?: string }[];
  return new Map(rows.map((r) => [r.dst, r.gateway ?? '']));
}

/**
 * A reconciler (any key) converging the kernel's routes to {@link desiredRoutes}; `device` holds the
 * node's address on `nodeNetwork`.
 */
export function routeReconciler(self: string, nodeNetwork: string, device: string, nodes: CacheReader<V1Node>, ciliumNodes: Lookup<CiliumNodeLike> | undefined, log: Logger): Reconciler {
  return {
    async reconcile() {
      const want = desiredRoutes(self, nodeNetwork, nodes, ciliumNodes);
      const have = await installedRoutes();
      for (const [dst, via] of have) {
        if (want.get(dst) === via) continue;
        await run('ip', ['route', 'del', dst, 'proto', ROUTE_PROTO]);
        log.info('route removed', { dst, via });
      }
      for (const [dst, via] of want) {
        if (have.get(dst) === via) continue;
        await run('ip', ['route', 'replace', dst, 'via', via, 'dev', device, 'proto', ROUTE_PROTO]);
        log.info('route installed', { dst, via });
      }
      return { requeueAfterMs: RECHECK_MS };
    },
  };
}
