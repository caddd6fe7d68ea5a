/**
 * Policy enforcement for one node, assembled: the policy engine, the endpoint enforcer and the
 * controllers that feed them from the cluster (policies, identities, CiliumEndpoints, Nodes). The
 * agent adds `caches` and `runnables` to its Manager and installs `hooks` on its CNI endpoint
 * manager, so that CNI ADD answers only once the pod's identity and policy are in the kernel.
 *
 * The composition root reads in order: the caches, the policy engine, the kernel side (the enforcer,
 * the LB state and the reconciled tables, built without touching the kernel), the feed from policies
 * to the engine, the controllers; then the kernel module (the first runnable: it loads or reopens
 * the BPF programs and maps and binds the tables to them when the Manager starts it), readiness, the
 * periodic refresh, and the CNI hooks.
 *
 * Start-up order and its guarantee: ADD waits until every cache has synced, the kernel side is open
 * and the engine has been primed from the caches, so a new pod is never computed against a partial
 * set of policies; after an agent restart the pinned maps keep enforcing the last state until
 * `restore()` recomputes them from a synced view of the cluster.
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesObject, type V1EndpointSlice, type V1Namespace, type V1Node, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { K8sIdentityBackend } from '../identity/k8s-identity-backend.ts';
import type { Registry } from 'prom-client';
import { registerDatapathMetrics } from './datapath-metrics.ts';
import { registerCoreMetrics, type RegenerationObserver } from './core-metrics.ts';
import { enforcementOf } from './cep.ts';
import { LabelFilter } from '../identity/label-filter.ts';
import { LabelSet } from '../identity/labels.ts';
import { sanitizePodLabels } from '../identity/pod-labels.ts';
import { CrdIdentityAllocator } from '../identity/allocator.ts';
import type { IdentityBackend } from '../identity/backend.ts';
import type { CiliumIdentityObject } from '../identity/ciliumidentity.ts';
import { labelsOfCiliumIdentity } from '../identity/ciliumidentity.ts';
import type { PolicyKind } from '../policy/api/model.ts';
import { PolicyEngine } from '../policy/engine.ts';
import type { EnforcementMode } from '../policy/endpoint-policy.ts';
import type { NamedPort } from '../policy/ports.ts';
import { Controller } from '../runtime/controller.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { objectKey } from '../runtime/resource.ts';
import type { Informer } from '../runtime/informer.ts';
import { kubeInformer } from '../runtime/kube-list-watch.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import { realClock, sleep } from '../runtime/clock.ts';
import { EventRecorder } from '../runtime/events.ts';
import { eventsV1Sink } from '../runtime/kube-event-sink.ts';
import { KERNEL_HEALTH_FILE, KernelTables } from './kernel-tables.ts';
import type { ResourceRef } from '../runtime/resource.ts';
import { cepObject, deleteCep, writeCep } from './cep.ts';
import { CepReporter } from './cep-reporter.ts';
import { EndpointEnforcer, type EndpointRequest, type PodFacts } from './endpoint-enforcer.ts';
import { identityReconciler } from './identity-controller.ts';
import { apiserverIpcacheReconciler, endpointIpcacheReconciler, nodeIpcacheReconciler, type CiliumEndpointLike } from './ipcache-controllers.ts';
import { policyReconciler } from './policy-controller.ts';
import { ValidPolicies } from './valid-policies.ts';
import { NamedPortIndex, namedPortsReconciler } from './named-ports.ts';
import { cidrGroupOf, PolicyFeed, type CiliumCidrGroupObject } from './policy-feed.ts';
import { ipcacheKeyCidr } from '../datapath/maps/ipcache.ts';
import { mapCapacity } from '../datapath/maps/map-ops.ts';
import { isLocalIdentity, ReservedIdentity } from '../identity/numeric.ts';
import { singleStackReservedIdentities } from '../identity/reserved-labels.ts';
import { IdentityAddressIndex, identityAddressesReconciler } from './endpoint-addresses.ts';
import { flowEventsRunnable, type FlowSink } from './flow-log.ts';
import { LbSync, SERVICES_STATE_FILE } from './lb-sync.ts';
import { ENDPOINT_SLICE_REF, lbPrimer, SERVICE_REF, serviceKeyOfSlice, serviceLbReconciler, type LbNode } from './service-controllers.ts';
import { attachNodeDevice } from './netdev-attach.ts';
import { attachSocketLb } from './socket-lb.ts';
import { join } from 'node:path';
import { L7PolicyTable } from '../envoy/l7-policy-table.ts';
import { CCNP_REF, CEP_REF, CIDR_GROUP_REF, CNP_REF, IDENTITY_REF, KNP_REF, NAMESPACE_REF, NODE_REF, POD_REF } from './resources.ts';

/** The endpoint as the CNI side hands it over (structurally the CNI endpoint record). */
export interface CniEndpoint {
  key: string;
  containerId: string;
  ip: string;
  hostIf: string;
  podNamespace: string;
  podName: string;
  podUid: string;
}

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
  /** How often every map is refreshed against its desired table and pruned (default 60 s). */
  driftCheckIntervalMs?: number;
  /** Runs interface work in the node's namespace (tests; the agent itself runs inside it). */
  inNodeNetns?: <T>(fn: () => T) => T;
  /** Where flow events go (the flow log, Hubble); default: nowhere (the events are not read). */
  flowSinks?: FlowSink[];
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
}

/** What the agent wires in. */
export interface Enforcement {
  engine: PolicyEngine;
  enforcer: EndpointEnforcer;
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
  hooks: { beforeAddReturns(ep: CniEndpoint): Promise<void>; afterDelete(ep: CniEndpoint): Promise<void> };
  /** Re-enforces endpoints that existed before a restart (call once; waits for the caches). */
  restore(endpoints: CniEndpoint[]): Promise<void>;
  /** Releases fds; the kernel keeps enforcing. */
  close(): void;
}

const POLICY_KINDS: [PolicyKind, ResourceRef][] = [
  ['CiliumNetworkPolicy', CNP_REF], ['CiliumClusterwideNetworkPolicy', CCNP_REF], ['NetworkPolicy', KNP_REF],
];

/** Builds a node's enforcement; nothing runs until the Manager starts the caches and runnables. */
export function createEnforcement(o: EnforcementOptions): Enforcement {
  const { kc, log } = o;
  const request = kubeRequester(kc);
  // The cluster state this node's enforcement follows.
  const informer = <T extends KubernetesObject>(ref: ResourceRef, opts: Parameters<typeof kubeInformer>[2] = {}) => kubeInformer<T>(kc, ref, opts, { log });
  const policyCaches = POLICY_KINDS.filter(([kind]) => kind !== 'NetworkPolicy' || o.k8sNetworkPolicy !== false).map(([kind, ref]) => [kind, informer<KubernetesObject>(ref)] as const);
  const identities = informer<CiliumIdentityObject & KubernetesObject>(IDENTITY_REF);
  const pods = informer<V1Pod>(POD_REF, { fieldSelector: `spec.nodeName=${o.nodeName}` });
  const namespaces = informer<V1Namespace>(NAMESPACE_REF);
  const ceps = informer<CiliumEndpointLike>(CEP_REF);
  const nodes = o.nodes ?? informer<V1Node>(NODE_REF);
  const services = informer<V1Service>(SERVICE_REF);
  const slices = informer<V1EndpointSlice>(ENDPOINT_SLICE_REF);
  const cidrGroups = informer<CiliumCidrGroupObject>(CIDR_GROUP_REF);

  // Policy computation: the engine knows the reserved identities from the start.
  const namedPorts = new NamedPortIndex();
  const engine: PolicyEngine = new PolicyEngine({
    enforcementMode: o.enforcementMode,
    cidrMatchesEndpoints: o.cidrMatchesEndpoints ?? false,
    egressNamedPorts: (name, peer) => namedPorts.resolve(name, peer, (id) => engine.selectorCache.identityLabels(id)),
  });
  engine.updateIdentities(singleStackReservedIdentities().map((r) => [r.id, r.labels] as const));
  const identityBackend = o.identityBackend ?? new K8sIdentityBackend(kc.makeApiClient(CustomObjectsApi));
  const allocator = new CrdIdentityAllocator(identityBackend, { clusterId: o.clusterId ?? 0 });
  const filter = new LabelFilter(o.labels ?? []);

  const podFacts = async (namespace: string, name: string): Promise<PodFacts> => {
    // An endpoint the runtime gave no pod for: the reserved init identity, as upstream's not-yet-known endpoints.
    if (!namespace || !name) return { labels: LabelSet.parse(['reserved:init']) };
    const pod = pods.get(`${namespace}/${name}`) ?? (await request({ method: 'GET', path: `/api/v1/namespaces/${namespace}/pods/${name}` })) as V1Pod;
    const ns = namespaces.get(namespace) ?? (await request({ method: 'GET', path: `/api/v1/namespaces/${namespace}` })) as V1Namespace;
    const all = sanitizePodLabels({
      namespace, podLabels: pod.metadata?.labels ?? {}, namespaceLabels: ns.metadata?.labels ?? {},
      serviceAccount: pod.spec?.serviceAccountName, clusterName: o.clusterName,
    });
    const namedPorts: NamedPort[] = (pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? [])
      .filter((p) => p.name).map((p) => ({ name: p.name!, port: p.containerPort, protocol: (p.protocol ?? 'TCP') as NamedPort['protocol'] })));
    return { labels: filter.filter(all).identity, namedPorts };
  };

  const nodeOwner = { apiVersion: 'v1', kind: 'Node', metadata: { name: o.nodeName } };
  const kernel = new KernelTables(log.child({ component: 'kernel-tables' }),
    new EventRecorder({ sink: eventsV1Sink(kc), controller: 'ciliate.io/agent', instance: o.nodeName, log }), join(o.stateDir, KERNEL_HEALTH_FILE));
  // The local endpoints' L7 rules, pushed to the node's proxies.
  const l7Policies = new L7PolicyTable({ rows: (id) => engine.mapState(id)?.rows(), address: (id) => enforcer.endpoint(id)?.request.ip });
  const enforcer = new EndpointEnforcer({
    pinRoot: o.pinRoot, stateDir: o.stateDir, engine, log: log.child({ component: 'enforcer' }), podFacts,
    kernelTables: kernel, nodeOwner, onEndpointErrors: (id) => refreshCeps([id]), onPolicyChanged: (id) => l7Policies.update(id),
    ...(o.policyMapMax ? { policyMapMax: o.policyMapMax } : {}),
    allocateIdentity: async (labels) => {
      // Fast path: a CiliumIdentity with exactly these labels is already known (the lowest number wins).
      const known = identities.list()
        .filter((obj) => !obj.metadata?.deletionTimestamp && labelsOfCiliumIdentity(obj).equals(labels))
        .map((obj) => Number(obj.metadata?.name)).filter((n) => Number.isInteger(n)).sort((a, b) => a - b)[0];
      return known ?? (await allocator.allocate(labels)).id;
    },
    ...(o.inNodeNetns ? { inNodeNetns: o.inNodeNetns } : {}),
  });
  // CiliumEndpoint status follows the endpoint (identity, enforcement, named ports), written in the background.
  const reporter = new CepReporter((id) => {
    const ep = enforcer.endpoint(id);
    if (!ep || !ep.request.podName) return undefined;
    return cepObject(ep, { podUid: podUids.get(id) ?? '', nodeIP: o.nodeIP, state: engine.mapState(id), errors: enforcer.policyErrors(id) });
  }, (obj) => writeCep(request, obj as Record<string, unknown>), log);
  const refreshCeps = (ids: Iterable<number>) => reporter.schedule(ids);
  const podUids = new Map<number, string>();
  let regenerated: RegenerationObserver | undefined;
  const apply = (diffs: ReturnType<PolicyEngine['updateIdentities']>) => {
    const start = performance.now();
    enforcer.applyDiffs(diffs);
    // Each endpoint whose policy changed was regenerated; each gets its share of the time.
    const share = (performance.now() - start) / 1000 / diffs.size;
    for (let i = 0; i < diffs.size; i++) regenerated?.(share, true);
    refreshCeps(diffs.keys());
  };
  const feed = new PolicyFeed(engine, enforcer.ipcache, apply);
  const validPolicies = new ValidPolicies(o.stateDir, o.clusterName, log);
  // Whatever no other row claims is outside the cluster.
  enforcer.ipcache.upsert('world', '0.0.0.0/0', { identity: ReservedIdentity.world });

  const lb = new LbSync(undefined, join(o.stateDir, SERVICES_STATE_FILE), undefined, log.child({ component: 'lb' }), kernel.observer);
  const lbNode: LbNode = { name: o.nodeName, ip: o.nodeIP, algorithm: o.lbAlgorithm ?? 'random' };
  const caches = [...policyCaches.map(([, c]) => c), cidrGroups, identities, ceps, pods, namespaces, services, slices, ...(o.nodes ? [] : [nodes])] as Informer<KubernetesObject>[];

  const controller = (name: string, reconciler: ConstructorParameters<typeof Controller>[0]['reconciler']) =>
    new Controller({ name, reconciler, log, registry: o.registry, needLeaderElection: false, resyncIntervalMs: 300_000 });
  const controllers = [
    ...policyCaches.map(([kind, cache]) => controller(`policy-${kind}`, policyReconciler(kind, cache, feed, validPolicies)).for(cache)),
    controller('cidr-groups', cachedReconciler(cidrGroups, {
      async apply(_ctx, obj) {
        feed.setCidrGroup(obj.metadata?.name ?? '', cidrGroupOf(obj));
        return {};
      },
      async cleanup(_ctx, req) {
        feed.setCidrGroup(req.name, undefined);
        return {};
      },
    })).for(cidrGroups),
    controller('identities', identityReconciler(identities, engine, (diffs, ids) => {
      apply(diffs);
      // Egress named ports of endpoints whose identity's labels just became known resolve now.
      apply(engine.refreshNamedPorts(new Set(ids.flatMap((id) => [...namedPorts.namesOf(id)]))));
    }, (id) => enforcer.endpoints().some((e) => e.identity === id))).for(identities),
    controller('named-ports', namedPortsReconciler(ceps, namedPorts, (names) => apply(engine.refreshNamedPorts(names)))).for(ceps),
    controller('ipcache-endpoints', endpointIpcacheReconciler(ceps, enforcer.ipcache)).for(ceps),
    ...(o.cidrMatchesEndpoints
      ? [controller('identity-addresses', identityAddressesReconciler(ceps, new IdentityAddressIndex(), (changes) => apply(engine.updateIdentityAddresses(changes)))).for(ceps)]
      : []),
    controller('services', serviceLbReconciler(services, slices, lb, lbNode)).for(services).watches(slices, serviceKeyOfSlice),
    controller('ipcache-nodes', nodeIpcacheReconciler(nodes, enforcer.ipcache, o.nodeName)).for(nodes),
    controller('ipcache-apiserver', apiserverIpcacheReconciler(slices, enforcer.ipcache)).for(slices),
    // A pod's or its namespace's labels changed: new identity, reloaded programs, recomputed policy.
    controller('endpoint-labels', cachedReconciler(pods, {
      async apply(_ctx, pod) {
        if (!ready) return {};
        const [ns, name] = [pod.metadata?.namespace ?? '', pod.metadata?.name ?? ''];
        for (const ep of enforcer.endpoints().filter((e) => e.request.podNamespace === ns && e.request.podName === name)) {
          if (await enforcer.relabel(ep.request.key, await podFacts(ns, name))) refreshCeps([ep.id]);
        }
        return {};
      },
    })).for(pods).watches(namespaces, (nsObj) => pods.list(nsObj.metadata?.name).map(objectKey)),
  ];

  // The kernel side, opened when the Manager starts it (first of the runnables, after the caches
  // synced): the shared programs and maps loaded or reopened from the pins, the LB and ipcache
  // tables bound to their maps, CIDR identities an earlier agent left in the kernel kept (so its maps
  // stay right until recomputed), socket-level and node-device service translation attached.
  let netdev: ReturnType<typeof attachNodeDevice> | undefined;
  let opened!: () => void;
  const kernelOpened = new Promise<void>((resolve) => (opened = resolve));
  const kernelModule: Runnable = {
    needLeaderElection: false,
    async start(signal) {
      enforcer.open();
      lb.open(enforcer.sharedMaps.lb);
      for (const [name, table] of Object.entries(lb.tables) as [keyof typeof lb.tables, LbSync['tables'][keyof LbSync['tables']]][]) {
        const map = enforcer.sharedMaps.lb[name];
        kernel.register({ mapName: table.name, group: table.name, table, capacity: mapCapacity(map), owner: nodeOwner });
      }
      feed.cidrs.restore(enforcer.ipcache.map.entries().filter(([, v]) => isLocalIdentity(v.secIdentity)).map(([k, v]) => [ipcacheKeyCidr(k), v.secIdentity] as const));
      if (o.socketLbCgroup) {
        try {
          attachSocketLb({ pinRoot: o.pinRoot, cgroupPath: o.socketLbCgroup, log });
        } catch (err) {
          log.error('socket-level service translation unavailable; the per-packet path serves every Service', { err: (err as Error).message });
        }
      }
      netdev = o.nodeDevice === false ? undefined : attachNodeDevice({ pinRoot: o.pinRoot, nodeIp: o.nodeIP, log, ...(o.inNodeNetns ? { inNodeNetns: o.inNodeNetns } : {}) });
      opened();
      await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    },
  };

  // Before the first endpoint is computed: every cache synced, the kernel side open, and the engine primed from them.
  let ready: Promise<void> | undefined;
  const whenReady = () => (ready ??= (async () => {
    await Promise.all([...caches, nodes].map((c) => c.waitForSync()));
    await kernelOpened;
    apply(engine.updateIdentities(identities.list().flatMap((obj) => {
      const id = Number(obj.metadata?.name);
      return Number.isInteger(id) && id > 0 ? [[id, labelsOfCiliumIdentity(obj)] as const] : [];
    })));
    for (const obj of cidrGroups.list()) feed.setCidrGroup(obj.metadata?.name ?? '', cidrGroupOf(obj));
    for (const [kind, cache] of policyCaches) {
      for (const obj of cache.list()) {
        const parsed = validPolicies.resolve(kind, obj);
        if (parsed) feed.upsertPolicy(parsed);
      }
    }
  })());

  if (o.registry) {
    registerDatapathMetrics(o.registry, () => enforcer.sharedMaps.metrics);
    regenerated = registerCoreMetrics(o.registry, {
      policyRules: () => engine.repository.rules().length,
      endpoints: () => enforcer.endpoints().map((e) => ({ state: 'ready', enforcement: enforcementOf(engine.mapState(e.id)) })),
      identities: () => engine.selectorCache.identityIds(),
    });
    kernel.registerMetrics(o.registry);
  }
  // Every reconciled map is refreshed against its table and pruned (counted per table in `kernel`).
  const refresh: Runnable = {
    needLeaderElection: false,
    async start(signal) {
      while (await sleep(realClock, o.driftCheckIntervalMs ?? 60_000, signal)) {
        if (!ready) continue;
        enforcer.reconcile();
        lb.reconcile();
      }
    },
  };

  const enforce = async (ep: CniEndpoint) => {
    await whenReady();
    const req: EndpointRequest = {
      key: ep.key, ip: ep.ip, hostIf: ep.hostIf, podNamespace: ep.podNamespace, podName: ep.podName, containerId: ep.containerId,
    };
    const start = performance.now();
    const enforced = await enforcer.add(req).catch((err: unknown) => {
      regenerated?.((performance.now() - start) / 1000, false);
      throw err;
    });
    // Read-your-writes: ADD answers once the endpoint's policy rows and the ipcache are in the kernel.
    await Promise.all([
      enforced.policy.reconciler.waitUntilReconciled(enforced.policy.table),
      enforcer.ipcache.reconciler.waitUntilReconciled(enforcer.ipcache.table),
    ]);
    regenerated?.((performance.now() - start) / 1000, true);
    if (ep.podNamespace && ep.podName) {
      // The CiliumEndpoint is reporting, not enforcement: written after ADD answers, retried by refreshes.
      podUids.set(enforced.id, ep.podUid);
      setImmediate(() => refreshCeps([enforced.id]));
    }
  };

  return {
    engine, enforcer, lb, kernel, caches, ceps, pods, slices, l7Policies,
    runnables: [kernelModule, ...controllers, refresh, lbPrimer(services, slices, lb, lbNode), ...(o.flowSinks?.length ? [flowEventsRunnable(enforcer, o.flowSinks, log)] : [])],
    hooks: {
      beforeAddReturns: enforce,
      async afterDelete(ep) {
        await kernelOpened;
        const id = enforcer.endpoints().find((e) => e.request.key === ep.key)?.id;
        if (id !== undefined) {
          reporter.forget(id);
          podUids.delete(id);
        }
        enforcer.remove(ep.key);
        if (ep.podNamespace && ep.podName) await deleteCep(request, ep.podNamespace, ep.podName);
      },
    },
    async restore(endpoints) {
      for (const ep of endpoints) {
        try {
          await enforce(ep);
        } catch (err) {
          log.error('could not restore endpoint; its pinned state keeps enforcing', { endpoint: ep.key, err: (err as Error).message });
        }
      }
    },
    close: () => {
      netdev?.release();
      lb.reconciler.disable();
      lb.flushState();
      enforcer.close();
    },
  };
}
