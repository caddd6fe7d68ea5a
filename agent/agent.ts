/**
 * A node's agent (the part built so far): keeps caches of Nodes and, when the cilium.io CRDs are
 * served, CiliumNodes; installs native routes to the other nodes' pod CIDRs; and serves the CNI
 * plugin on the node's root-only socket with host-local IPAM from this node's pod CIDRs.
 * It runs inside the node's network namespace.
 */
import { join } from 'node:path';
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import type { ClusterConfig } from '../cluster/config.ts';
import type { NodeConfig } from '../cluster/node-config.ts';
import { realClock, sleep } from '../runtime/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { Manager } from '../runtime/manager.ts';
import type { Logger } from '../runtime/logger.ts';
import { kubeInformer } from '../runtime/kube-list-watch.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { Informer } from '../runtime/informer.ts';
import { serveCni } from './cni-server.ts';
import { CILIUM_NODE_REF, NODE_REF } from './resources.ts';
import { createEnforcement } from './enforcement.ts';
import { FLOW_LOG } from './flow-log.ts';
import { Registry } from 'prom-client';
import { HttpEndpoint, metricsRoutes } from '../runtime/http-endpoint.ts';

/** The agent's metrics port (upstream's `prometheus-serve-addr` default). */
export const AGENT_METRICS_PORT = 9962;
import { setEndpointHooks } from './hooks.ts';
import { nodePinRoot } from '../cluster/node-config.ts';
import { cgroupProcs } from '../cluster/cgroup.ts';
import { DEFAULT_CLUSTER_NAME } from '../identity/pod-labels.ts';
import { EndpointManager } from './endpoints.ts';
import { podCIDRsOf, type CiliumNodeLike } from './pod-cidrs.ts';
import { routeReconciler } from './routes.ts';
import { masqueradeReconciler } from './masquerade.ts';


/** Whether the apiserver serves cilium.io/v2 ciliumnodes. */
async function ciliumNodesServed(kc: KubeConfig): Promise<boolean> {
  try {
    const list = (await kubeRequester(kc)({ method: 'GET', path: '/apis/cilium.io/v2' })) as { resources?: { name: string }[] };
    return Boolean(list.resources?.some((r) => r.name === 'ciliumnodes'));
  } catch {
    return false;
  }
}

/** How often the agent looks for the cilium.io CRDs until they are installed. */
const CRD_POLL_MS = 5000;

/** Runs the agent of `node` until `signal` aborts. */
export async function runAgent(cluster: ClusterConfig, node: NodeConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(node.agentKubeconfig);
  const nodes = kubeInformer<V1Node>(kc, NODE_REF, {}, { log });
  // Set once the cilium.io CRDs are served (they may be installed after the cluster starts).
  let ciliumNodes: Informer<CiliumNodeLike> | undefined;
  const podCIDRs = () => podCIDRsOf(node.name, nodes, ciliumNodes);
  const endpoints = new EndpointManager(join(node.dir, 'agent'), podCIDRs, log.child({ component: 'endpoints' }));
  const server = await serveCni(node.socket, (req) => endpoints.handle(req));
  signal.addEventListener('abort', () => server.close(), { once: true });
  log.info('CNI socket listening', { socket: node.socket });
  const routes = new Controller({
    name: 'routes', log, needLeaderElection: false,
    reconciler: routeReconciler(node.name, cluster.network.cidr, nodes, { get: (k) => ciliumNodes?.get(k), list: () => ciliumNodes?.list() ?? [] }, log.child({ component: 'routes' })),
  }).watches(nodes, () => ['routes']);
  const masquerade = new Controller({
    name: 'masquerade', log, needLeaderElection: false,
    reconciler: masqueradeReconciler(node.name, nodes, { get: (k) => ciliumNodes?.get(k), list: () => ciliumNodes?.list() ?? [] }, log.child({ component: 'masquerade' })),
  }).watches(nodes, () => ['masquerade']);
  const watchCiliumNodes = async () => {
    while (!signal.aborted && !(await ciliumNodesServed(kc))) {
      await sleep(realClock, CRD_POLL_MS, signal);
    }
    if (signal.aborted) return;
    const informer = kubeInformer<CiliumNodeLike>(kc, CILIUM_NODE_REF, {}, { log });
    const running = informer.start(signal);
    if (await informer.waitForSync(signal)) {
      ciliumNodes = informer;
      routes.watches(informer, () => ['routes']);
      masquerade.watches(informer, () => ['masquerade']);
      log.info('using CiliumNode pod CIDRs when present');
    }
    await running;
  };
  const registry = new Registry();
  // Policy enforcement: CNI ADD answers only once the pod's identity and policy are in the kernel.
  const enforcement = createEnforcement({
    kc, nodeName: node.name, nodeIP: node.address, pinRoot: nodePinRoot(cluster.name, node.name),
    stateDir: join(node.dir, 'agent'), clusterName: DEFAULT_CLUSTER_NAME, enforcementMode: 'default',
    log: log.child({ component: 'enforcement' }), nodes, flowLogPath: join(node.dir, 'agent', FLOW_LOG), registry,
    ...(cgroupProcs(node.cgroup) ? { socketLbCgroup: node.cgroup } : {}),
  });
  setEndpointHooks(enforcement.hooks);
  // Metrics (controllers, work queues, drift repairs) on the node's address, upstream's agent port.
  const manager = new Manager({ log }).addCache(nodes).add(routes).add(masquerade)
    .add(new HttpEndpoint('metrics', { host: node.address, port: AGENT_METRICS_PORT }, metricsRoutes(registry), log));
  for (const c of enforcement.caches) manager.addCache(c);
  for (const r of enforcement.runnables) manager.add(r);
  // Endpoints from before a restart: their pinned state keeps enforcing until this recomputes it.
  void enforcement.restore(endpoints.endpoints());
  try {
    await Promise.all([manager.start(signal), watchCiliumNodes()]);
  } finally {
    server.close();
    enforcement.close();
  }
}
