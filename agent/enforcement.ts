/**
 * Policy enforcement for one node, assembled from its modules. The agent adds `caches` and
 * `runnables` to its Manager and installs `hooks` on its CNI endpoint manager, so that CNI ADD
 * answers only once the pod's identity and policy are in the kernel.
 *
 * The composition root reads in order; each module is given what it needs and registers its start
 * and stop hooks on one lifecycle, and building touches nothing outside the process:
 *   caches → policy engine → pod facts and identities → kernel side (hook: load or reopen the BPF
 *   programs and maps, bind the tables) → endpoint status → metrics → the path from the engine to
 *   the kernel (hook: keep the CIDR identities the kernel holds) → CNI hooks (hook: the kernel side
 *   is open, ADD may proceed) → controllers and periodic work.
 * The lifecycle's start hooks run, in that order, as the first runnable once the caches synced; its
 * stop hooks run in reverse on `close()` (releasing fds: the kernel keeps enforcing).
 */
import type { KubeConfig, KubernetesObject, V1EndpointSlice, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { IdentityBackend } from '../identity/backend.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { EnforcementMode } from '../policy/endpoint-policy.ts';
import type { Informer } from '../runtime/informer.ts';
import { Lifecycle } from '../runtime/lifecycle.ts';
import { L7PolicyTable } from '../envoy/l7-policy-table.ts';
import type { FqdnCacheOptions } from './fqdn-cache.ts';
import type { PolicyFeed } from './policy-feed.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import { enforcementOf } from './cep.ts';
import { registerCoreMetrics } from './core-metrics.ts';
import { registerDatapathMetrics } from './datapath-metrics.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import { endpointHooks, type CniEndpoint } from './endpoint-hooks.ts';
import { endpointStatus } from './endpoint-status.ts';
import { enforcementCaches } from './enforcement-caches.ts';
import { enforcementControllers } from './enforcement-controllers.ts';
import type { CiliumEndpointLike } from './ipcache-controllers.ts';
import { kernelModule } from './kernel-module.ts';
import type { KernelTables } from './kernel-tables.ts';
import type { LbSync } from './lb-sync.ts';
import { mapPressureSampler } from './map-pressure-sampler.ts';
import { podIdentity } from './pod-identity.ts';
import { policyEngine, policyPath } from './policy-module.ts';
import type { PolicyRevisions } from './policy-revisions.ts';
import { lbPrimer, type LbNode } from './service-controllers.ts';

export type { CniEndpoint } from './endpoint-hooks.ts';

/** Settings of a node's enforcement. */
export interface EnforcementOptions {
  kc: KubeConfig;
  nodeName: string;
  nodeIP: string;
  /** bpffs folder for this node's pins. */
  pinRoot: string;
  stateDir: string;
  clusterName: string;
  /** ClusterMesh cluster id (`cluster-id`): the range new identities are numbered from (default 0). */
  clusterId?: number;
  enforcementMode: EnforcementMode;
  /** Identity-relevant label patterns added to upstream's defaults (`labels`). */
  labels?: string[];
  /** Policy entries allowed per endpoint (`bpf-policy-map-max`). */
  policyMapMax?: number;
  /** false: Kubernetes NetworkPolicy is not enforced (`enable-k8s-networkpolicy`). */
  k8sNetworkPolicy?: boolean;
  log: Logger;
  registry?: Registry;
  /** Identity backend; default: CiliumIdentity objects through the API. */
  identityBackend?: IdentityBackend;
  /** How often the maps the datapath fills (conntrack, NAT) are counted for their pressure (default 30 s). */
  mapSampleIntervalMs?: number;
  /** How often every map is refreshed against its desired table and pruned (default 60 s). */
  driftCheckIntervalMs?: number;
  /** Runs interface work in the node's namespace (tests; the agent itself runs inside it). */
  inNodeNetns?: <T>(fn: () => T) => T;
  /** Default backend selection for Services (helm loadBalancer.algorithm); default random. */
  lbAlgorithm?: 'random' | 'maglev';
  /** The node's cgroup v2 directory: socket-level service translation for the processes in it. */
  socketLbCgroup?: string;
  /** false: no programs on the node device (no NodePort from the node network). */
  nodeDevice?: false;
  /** An existing Node informer to share (the caller starts it); default: one of its own. */
  nodes?: Informer<V1Node>;
  /** NetworkPolicy ipBlocks also select pods by address (`policy-cidr-match-mode` pods). */
  cidrMatchesEndpoints?: boolean;
  /** The FQDN cache's settings (`tofqdns-*`). */
  fqdnCache?: FqdnCacheOptions;
}

/** What the agent wires in. */
export interface Enforcement {
  engine: PolicyEngine;
  enforcer: EndpointEnforcer;
  /** Where policies, CIDR groups and DNS answers enter (the DNS proxy feeds its FQDN cache). */
  feed: PolicyFeed;
  /** The local endpoints' desired L7 policy, pushed to the node's proxies. */
  l7Policies: L7PolicyTable;
  /** The node's service load-balancing state (ClusterIP frontends and backends). */
  lb: LbSync;
  /** The reconciled kernel tables: health, map pressure, rows in error. */
  kernel: KernelTables;
  caches: Informer<KubernetesObject>[];
  /** The cluster's CiliumEndpoints (who holds which pod address). */
  ceps: Informer<CiliumEndpointLike>;
  /** This node's pods. */
  pods: Informer<V1Pod>;
  /** The cluster's EndpointSlices. */
  slices: Informer<V1EndpointSlice>;
  runnables: Runnable[];
  /** Resolves once every module started (the kernel side is open). */
  started: Promise<void>;
  /** Read-your-writes for policy: the repository's revision, and a wait until the kernel holds it. */
  revisions: PolicyRevisions;
  hooks: { beforeAddReturns(ep: CniEndpoint): Promise<void>; afterDelete(ep: CniEndpoint): Promise<void> };
  /** Re-enforces endpoints that existed before a restart (call once; waits for the caches). */
  restore(endpoints: CniEndpoint[]): Promise<void>;
  /** Releases fds; the kernel keeps enforcing. */
  close(): void;
}

/** Builds a node's enforcement; nothing runs until the Manager starts the caches and runnables. */
export function createEnforcement(o: EnforcementOptions): Enforcement {
  const { kc, log } = o;
  const lifecycle = new Lifecycle(log);
  const caches = enforcementCaches({ kc, nodeName: o.nodeName, k8sNetworkPolicy: o.k8sNetworkPolicy, log, ...(o.nodes ? { nodes: o.nodes } : {}) });
  const { engine, namedPorts } = policyEngine({ enforcementMode: o.enforcementMode, cidrMatchesEndpoints: o.cidrMatchesEndpoints ?? false });
  const identity = podIdentity({
    kc, caches, clusterName: o.clusterName, labels: o.labels ?? [], clusterId: o.clusterId ?? 0, ...(o.identityBackend ? { identityBackend: o.identityBackend } : {}),
  });
  const { kernel, enforcer, lb, nodeOwner, refresh } = kernelModule({
    kc, nodeName: o.nodeName, nodeIP: o.nodeIP, pinRoot: o.pinRoot, stateDir: o.stateDir, engine, identity, lifecycle, log,
    ...(o.policyMapMax ? { policyMapMax: o.policyMapMax } : {}), ...(o.inNodeNetns ? { inNodeNetns: o.inNodeNetns } : {}),
    ...(o.socketLbCgroup ? { socketLbCgroup: o.socketLbCgroup } : {}), ...(o.nodeDevice === false ? { nodeDevice: false as const } : {}),
  });
  // The local endpoints' L7 rules, pushed to the node's proxies.
  const l7Policies = new L7PolicyTable({ rows: (id) => engine.mapState(id)?.rows(), address: (id) => enforcer.endpoint(id)?.request.ip });
  enforcer.onPolicyChanged((id) => l7Policies.update(id));
  const status = endpointStatus({ kc, nodeIP: o.nodeIP, engine, enforcer, pods: caches.pods, log });
  if (o.registry) {
    registerDatapathMetrics(o.registry, () => enforcer.sharedMaps.metrics);
    kernel.registerMetrics(o.registry);
  }
  const regenerated = o.registry && registerCoreMetrics(o.registry, {
    policyRules: () => engine.repository.rules().length,
    endpoints: () => enforcer.endpoints().map((e) => ({ state: 'ready', enforcement: enforcementOf(engine.mapState(e.id)) })),
    identities: () => engine.selectorCache.identityIds(),
  });
  const path = policyPath({
    engine, enforcer, status, stateDir: o.stateDir, clusterName: o.clusterName, lifecycle, log,
    ...(regenerated ? { regenerated } : {}), ...(o.fqdnCache ? { fqdnCache: o.fqdnCache } : {}),
  });
  const hooks = endpointHooks({ kc, caches, path, enforcer, status, lifecycle, log, ...(regenerated ? { regenerated } : {}) });

  const lbNode: LbNode = { name: o.nodeName, ip: o.nodeIP, algorithm: o.lbAlgorithm ?? 'random' };
  const controllers = enforcementControllers({
    caches, engine, namedPorts, path, enforcer, lb, lbNode, identity, status, nodeName: o.nodeName,
    cidrMatchesEndpoints: o.cidrMatchesEndpoints ?? false, started: hooks.started, log, ...(o.registry ? { registry: o.registry } : {}),
  });
  // The maps the datapath fills itself, sampled for their pressure once the kernel side is open.
  const sampler = mapPressureSampler(kernel, async () => {
    await lifecycle.started;
    const m = enforcer.sharedMaps;
    return ([
      ['cilium_ct4_global', m.conntrack], ['cilium_drop_aggr', m.dropAggr], ['cilium_lb4_ct', m.lb.ct],
      ['cilium_lb4_affinity', m.lb.affinity], ['cilium_lb4_nodeport_nat', m.lb.nodeportNat],
    ] as const).map(([mapName, map]) => ({ mapName, map, owner: nodeOwner }));
  }, log.child({ component: 'map-pressure' }), o.mapSampleIntervalMs);

  return {
    engine, enforcer, feed: path.feed, l7Policies, lb, kernel, caches: caches.all, ceps: caches.ceps, pods: caches.pods, slices: caches.slices, revisions: path.revisions,
    // The lifecycle first: the kernel side opens before anything samples or refreshes it.
    runnables: [
      lifecycle.runnable(), ...controllers, refresh(hooks.started, o.driftCheckIntervalMs ?? 60_000), sampler,
      lbPrimer(caches.services, caches.slices, lb, lbNode),
    ],
    started: lifecycle.started,
    hooks: { beforeAddReturns: hooks.beforeAddReturns, afterDelete: hooks.afterDelete },
    restore: hooks.restore,
    close: () => lifecycle.stop(),
  };
}
