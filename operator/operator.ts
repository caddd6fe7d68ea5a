// Wiring of ciliate-operator: caches, reconcilers, leader election, metrics and health, under one Manager.
import type { KubeConfig, KubernetesObject, V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { setMaxListeners } from 'node:events';
import { Registry } from 'prom-client';
import type {
  CiliumClusterwideNetworkPolicy, CiliumEndpoint, CiliumIdentity, CiliumNetworkPolicy, CiliumNode, CiliumPodIPPool,
} from '../crds/types.generated.ts';
import { objectApi } from '../reconcilers/api.ts';
import { ciliumNodeFromNodeController } from '../reconcilers/ciliumnode-from-node.ts';
import { ClusterPoolIpam } from '../reconcilers/cluster-pool-ipam.ts';
import type { ReconcilerDeps } from '../reconcilers/deps.ts';
import { endpointGc } from '../reconcilers/endpoint-gc.ts';
import { identityGc } from '../reconcilers/identity-gc.ts';
import { MultiPoolIpam } from '../reconcilers/multi-pool-ipam.ts';
import { policyStatusController, validatePolicy, type PolicyValidator } from '../reconcilers/policy-status.ts';
import { REFS } from '../reconcilers/resources.ts';
import { EventRecorder, LeaderElector, Manager, nopLogger, realClock, type Informer, type Logger, type ResourceRef } from '../runtime/index.ts';
import { eventsV1Sink, kubeInformer, kubeRequester, leaseClient, statusWriter } from '../runtime/kube.ts';
import type { OperatorConfig } from './config.ts';
import { configReloader } from './config-reload.ts';
import { healthRoutes, HttpEndpoint, metricsRoutes } from './http.ts';
import { operatorMetrics } from './metrics.ts';

/** Name of the Lease the replicas compete for, as upstream. */
export const LEASE_NAME = 'cilium-operator-resource-lock';

/** Options for {@link buildOperator}. */
export interface OperatorOptions {
  /** Logger; default discards. */
  log?: Logger;
  /** Metrics registry; default a fresh one. */
  registry?: Registry;
  /** Policy validator; default the policy/ parser's validation. */
  validate?: PolicyValidator;
  /** Re-reads the configuration (config-dir reload); omit to disable reloading. */
  reload?: () => OperatorConfig;
}

/** A built operator: run it, and read its endpoints' ports. */
export interface Operator {
  /** Runs until `signal` aborts; rejects on failure or lost leadership. */
  run(signal: AbortSignal): Promise<void>;
  /** Port of the metrics server, once listening (undefined when disabled). */
  metricsPort: Promise<number> | undefined;
  /** Port of the health server, once listening (undefined when disabled). */
  healthPort: Promise<number> | undefined;
  /** The cluster-pool allocator, in cluster-pool mode. */
  clusterPool: ClusterPoolIpam | undefined;
  /** Whether this replica leads now. */
  leading(): boolean;
}

/** Builds the operator for `cfg` on the cluster of `kc`. */
export function buildOperator(cfg: OperatorConfig, kc: KubeConfig, opts: OperatorOptions = {}): Operator {
  const log = opts.log ?? nopLogger;
  const registry = opts.registry ?? new Registry();
  const request = kubeRequester(kc);
  const deps: ReconcilerDeps = {
    api: objectApi(request),
    status: (ref) => statusWriter(kc, ref, request),
    events: new EventRecorder({ sink: eventsV1Sink(kc), controller: 'ciliate.io/operator', instance: cfg.id, log }),
    log,
    metrics: operatorMetrics(registry),
    registry,
    clock: realClock,
  };
  const informers: Array<Informer<KubernetesObject>> = [];
  const informer = <T extends KubernetesObject>(ref: ResourceRef): Informer<T> => {
    const inf = kubeInformer<T>(kc, ref, {}, { log });
    informers.push(inf as unknown as Informer<KubernetesObject>);
    return inf;
  };
  const nodes = informer<V1Node>(REFS.node);
  const ciliumNodes = informer<CiliumNode>(REFS.ciliumNode);
  const pods = informer<V1Pod>(REFS.pod);
  const endpoints = informer<CiliumEndpoint>(REFS.ciliumEndpoint);
  const identities = informer<CiliumIdentity>(REFS.ciliumIdentity);
  const cnps = informer<CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy>(REFS.cnp);
  const ccnps = informer<CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy>(REFS.ccnp);

  let leading = false;
  const manager = new Manager({
    log,
    leaderElection: (cb) =>
      new LeaderElector(
        { namespace: cfg.namespace, name: LEASE_NAME, identity: cfg.id, client: leaseClient(kc), ...cfg.leaderElection, log },
        {
          ...cb,
          onStartedLeading: (signal) => {
            leading = true;
            signal.addEventListener('abort', () => (leading = false), { once: true });
            cb.onStartedLeading(signal);
          },
        },
      ),
  });
  const validate = opts.validate ?? validatePolicy;
  manager
    .add(ciliumNodeFromNodeController(deps, nodes, ciliumNodes))
    .add(policyStatusController(deps, 'cnp-status', REFS.cnp, cnps, validate))
    .add(policyStatusController(deps, 'ccnp-status', REFS.ccnp, ccnps, validate))
    .add(identityGc(deps, identities, endpoints, {
      intervalMs: cfg.identityGcIntervalMs, heartbeatTimeoutMs: cfg.identityHeartbeatTimeoutMs, rate: cfg.identityGcRate,
    }))
    .add(endpointGc(deps, endpoints, pods, { intervalMs: cfg.endpointGcIntervalMs, rate: cfg.identityGcRate }));

  let clusterPool: ClusterPoolIpam | undefined;
  if (cfg.ipam === 'cluster-pool') {
    clusterPool = new ClusterPoolIpam(deps, ciliumNodes, cfg.clusterPool);
    manager.add(clusterPool);
    if (opts.reload && cfg.configDir) manager.add(configReloader(cfg, opts.reload, clusterPool, log));
  } else {
    const pools = informer<CiliumPodIPPool>(REFS.ciliumPodIPPool);
    const namespaces = informer<V1Namespace>(REFS.namespace);
    manager.add(new MultiPoolIpam(deps, { ciliumNodes, pods, namespaces, pools }));
  }
  for (const inf of informers) manager.addCache(inf);

  const health = { ready: () => informers.every((i) => i.hasSynced()), leading: () => leading };
  const metricsServer = cfg.prometheus && new HttpEndpoint('metrics', cfg.prometheus, metricsRoutes(registry), log);
  const healthServer = cfg.api && new HttpEndpoint('health', cfg.api, healthRoutes(health), log);
  return {
    async run(signal) {
      setMaxListeners(100, signal); // every runnable, worker and sleep listens for the stop
      // The HTTP endpoints run outside the Manager so health answers (503) while caches sync.
      const servers = [metricsServer, healthServer].filter((s) => s !== undefined).map((s) => s.start(signal));
      try {
        await manager.start(signal);
      } finally {
        await deps.events.flush();
      }
      await Promise.all(servers);
    },
    metricsPort: metricsServer?.bound,
    healthPort: healthServer?.bound,
    clusterPool,
    leading: () => leading,
  };
}
