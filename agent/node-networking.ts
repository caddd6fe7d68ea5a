/**
 * The node's place in the cluster network: a cache of Nodes and, in cluster-pool IPAM once the
 * cilium.io CRDs are served (they may be installed after the cluster starts), of CiliumNodes; this
 * node's pod CIDRs from them (a CiliumNode's when present); native routes to the other nodes' pod
 * CIDRs and masquerading of pod traffic leaving the cluster, as controllers.
 */
import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import { realClock, sleep } from '../runtime/clock.ts';
import { Controller } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import { kubeInformer } from '../runtime/kube-list-watch.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { Logger } from '../runtime/logger.ts';
import type { AgentConfig } from './config/parse.ts';
import { masqueradeReconciler } from './masquerade.ts';
import { podCIDRsOf, type CiliumNodeLike } from './pod-cidrs.ts';
import { CILIUM_NODE_REF, NODE_REF } from './resources.ts';
import { routeReconciler } from './routes.ts';

/** How often the agent looks for the cilium.io CRDs until they are installed. */
const CRD_POLL_MS = 5000;

/** Whether the apiserver serves cilium.io/v2 ciliumnodes. */
async function ciliumNodesServed(kc: KubeConfig): Promise<boolean> {
  try {
    const list = (await kubeRequester(kc)({ method: 'GET', path: '/apis/cilium.io/v2' })) as { resources?: { name: string }[] };
    return Boolean(list.resources?.some((r) => r.name === 'ciliumnodes'));
  } catch {
    return false;
  }
}

/** What node networking needs. */
export interface NodeNetworkingDeps {
  kc: KubeConfig;
  cfg: Pick<AgentConfig, 'nodeName' | 'autoDirectNodeRoutes' | 'masquerade' | 'nativeRoutingCIDR' | 'ipam'>;
  /** The device holding the node address, and its network. */
  device: { name: string; network: string };
  log: Logger;
}

/** The node's networking parts. */
export interface NodeNetworking {
  /** The Nodes cache (the Manager starts it). */
  nodes: Informer<V1Node>;
  /** This node's pod CIDRs now. */
  podCIDRs(): string[];
  /** Routes and masquerading, as configured. */
  controllers: Controller[];
  /** In cluster-pool IPAM: waits for the CiliumNode CRD, then follows CiliumNodes until `signal` aborts. */
  followCiliumNodes(signal: AbortSignal): Promise<void>;
}

/** Builds the Nodes cache and the controllers; nothing connects until started. */
export function nodeNetworking(d: NodeNetworkingDeps): NodeNetworking {
  const { kc, cfg, device, log } = d;
  const nodes = kubeInformer<V1Node>(kc, NODE_REF, {}, { log });
  // Set once the cilium.io CRDs are served; cluster-pool IPAM only.
  let ciliumNodes: Informer<CiliumNodeLike> | undefined;
  const ciliumNodeLookup = { get: (k: string) => ciliumNodes?.get(k), list: () => ciliumNodes?.list() ?? [] };
  const controllers: Controller[] = [];
  if (cfg.autoDirectNodeRoutes) {
    controllers.push(new Controller({
      name: 'routes', log, needLeaderElection: false,
      reconciler: routeReconciler(cfg.nodeName, device.network, device.name, nodes, ciliumNodeLookup, log.child({ component: 'routes' })),
    }).watches(nodes, () => ['routes']));
  }
  if (cfg.masquerade) {
    controllers.push(new Controller({
      name: 'masquerade', log, needLeaderElection: false,
      reconciler: masqueradeReconciler(cfg.nodeName, nodes, ciliumNodeLookup, cfg.nativeRoutingCIDR, log.child({ component: 'masquerade' })),
    }).watches(nodes, () => ['masquerade']));
  }
  return {
    nodes, controllers,
    podCIDRs: () => podCIDRsOf(cfg.nodeName, nodes, ciliumNodes),
    async followCiliumNodes(signal) {
      if (cfg.ipam !== 'cluster-pool') return;
      while (!signal.aborted && !(await ciliumNodesServed(kc))) {
        await sleep(realClock, CRD_POLL_MS, signal);
      }
      if (signal.aborted) return;
      const informer = kubeInformer<CiliumNodeLike>(kc, CILIUM_NODE_REF, {}, { log });
      const running = informer.start(signal);
      if (await informer.waitForSync(signal)) {
        ciliumNodes = informer;
        for (const c of controllers) c.watches(informer, () => [c.name]);
        log.info('using CiliumNode pod CIDRs when present');
      }
      await running;
    },
  };
}
