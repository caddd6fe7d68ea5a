/**
 * Services and EndpointSlices (discovery.k8s.io/v1) into the node's LB maps. Level-triggered per
 * Service. Its frontends, one per port: the ClusterIP(s); with type NodePort or LoadBalancer, this
 * node's address at the nodePort; each externalIP; each assigned LoadBalancer ingress IP. Backends
 * are the ready endpoints of its slices with the slice port of the same name; when none is ready,
 * the serving ones that are terminating (as kube-proxy). Endpoints not ready (terminating ones
 * included) get no new connections; established flows keep their backend in the datapath.
 * internalTrafficPolicy Local keeps ClusterIP traffic on this node's backends; externalTrafficPolicy
 * Local does the same for traffic from outside, while clients inside the cluster still reach every
 * backend (a second lookup scope). sessionAffinity ClientIP carries its timeout (default 3 h);
 * `service.cilium.io/lb-algorithm: maglev|random` overrides the agent's default algorithm.
 * Headless Services and Services without an IPv4 ClusterIP have no ClusterIP frontend.
 */
import type { KubernetesObject, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { keyOf, type Reconciler } from '../runtime/reconcile.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Runnable } from '../runtime/manager.ts';
import { objectKey } from '../runtime/resource.ts';
import type { ResourceRef } from '../runtime/resource.ts';
import { LB_PROTO } from '../datapath/maps/lb.ts';
import type { FrontendKind, LbBackend, LbSync, ServiceFrontend } from './lb-sync.ts';

/** Service. */
export const SERVICE_REF: ResourceRef = { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true };
/** EndpointSlice. */
export const ENDPOINT_SLICE_REF: ResourceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true };
/** The label naming a slice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Upstream's per-Service backend selection annotation. */
export const LB_ALGORITHM_ANNOTATION = 'service.cilium.io/lb-algorithm';
/** Upstream's default ClientIP affinity timeout (3 h). */
export const DEFAULT_AFFINITY_TIMEOUT_SEC = 10800;

/** Where this agent runs and how it balances by default. */
export interface LbNode {
  /** This node's name (backends with this nodeName are local). */
  name: string;
  /** This node's address on the node network: the NodePort frontend. */
  ip?: string;
  /** Default backend selection (helm loadBalancer.algorithm). */
  algorithm?: 'random' | 'maglev';
}

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

function protoOf(p: string | undefined): number | undefined {
  const name = p ?? 'TCP';
  return name === 'TCP' ? LB_PROTO.TCP : name === 'UDP' ? LB_PROTO.UDP : undefined;
}

/** A port's backends: ready endpoints, or serving terminating ones when none is ready. */
function backendsOf(slices: V1EndpointSlice[], portName: string, proto: number, node: LbNode): LbBackend[] {
  const ready: LbBackend[] = [];
  const terminating: LbBackend[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && protoOf(p.protocol) === proto);
    if (!sp?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      const isReady = ep.conditions?.ready !== false;
      const serving = ep.conditions?.serving ?? isReady;
      const list = isReady ? ready : serving && ep.conditions?.terminating ? terminating : undefined;
      if (!list) continue;
      for (const ip of ep.addresses) if (IPV4.test(ip)) list.push({ ip, port: sp.port, proto, local: ep.nodeName === node.name });
    }
  }
  return ready.length ? ready : terminating;
}

/** The frontends of a Service with the backends its slices list, as this node serves them. */
export function serviceFrontends(svc: V1Service, slices: V1EndpointSlice[], node: LbNode = { name: '' }): ServiceFrontend[] {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return [];
  const clusterIPs = [...new Set([spec.clusterIP, ...(spec.clusterIPs ?? [])])].filter((ip): ip is string => !!ip && IPV4.test(ip));
  const externalIPs = (spec.externalIPs ?? []).filter((ip) => IPV4.test(ip));
  const lbIPs = spec.type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip && IPV4.test(ip)) : [];
  const affinity = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SEC) : 0;
  const algorithm = svc.metadata?.annotations?.[LB_ALGORITHM_ANNOTATION] ?? node.algorithm ?? 'random';
  const local = (list: LbBackend[]) => list.filter((b) => b.local);
  return (spec.ports ?? []).flatMap((port) => {
    const proto = protoOf(port.protocol);
    if (proto === undefined) return [];
    const all = backendsOf(slices, port.name ?? '', proto, node);
    const internal = spec.internalTrafficPolicy === 'Local' ? local(all) : all;
    const externalLocal = spec.externalTrafficPolicy === 'Local';
    const common = {
      ...(affinity ? { affinityTimeoutSec: affinity } : {}),
      ...(algorithm === 'maglev' ? { maglev: true } : {}),
    };
    const clusterFe = (ip: string): ServiceFrontend => ({ frontend: { ip, port: port.port, proto }, kind: 'ClusterIP', backends: internal, ...common, ...(spec.internalTrafficPolicy === 'Local' ? { localOnly: true } : {}) });
    // Reached from outside: external traffic policy applies; clients in the cluster use the internal scope.
    const externalFe = (ip: string, p: number, kind: FrontendKind): ServiceFrontend => ({
      frontend: { ip, port: p, proto }, kind, ...common,
      backends: externalLocal ? local(all) : all,
      ...(externalLocal ? { localOnly: true, internalBackends: internal } : {}),
    });
    const nodePort = (spec.type === 'NodePort' || spec.type === 'LoadBalancer') && port.nodePort && node.ip ? [externalFe(node.ip, port.nodePort, 'NodePort')] : [];
    return [
      ...clusterIPs.map(clusterFe),
      ...nodePort,
      ...externalIPs.map((ip) => externalFe(ip, port.port, 'ExternalIP')),
      ...lbIPs.map((ip) => externalFe(ip, port.port, 'LoadBalancer')),
    ];
  });
}

/** The slices of a Service (by the service-name label). */
export function slicesOf(slices: CacheReader<V1EndpointSlice>, namespace: string, name: string): V1EndpointSlice[] {
  return slices.list(namespace).filter((s) => s.metadata?.labels?.[SERVICE_NAME_LABEL] === name);
}

/** The Service key a slice belongs to (none without the label). */
export function serviceKeyOfSlice(slice: KubernetesObject): string[] {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return name ? [`${slice.metadata?.namespace}/${name}`] : [];
}

/** Reconciles one Service (by key) into the LB maps; a deleted Service's rows go. */
export function serviceLbReconciler(services: CacheReader<V1Service>, slices: CacheReader<V1EndpointSlice>, lb: LbSync, node: LbNode): Reconciler {
  return cachedReconciler(services, {
    async apply(_ctx, svc, req) {
      lb.upsert(keyOf(req), serviceFrontends(svc, slicesOf(slices, svc.metadata?.namespace ?? '', svc.metadata?.name ?? ''), node));
      return {};
    },
    async cleanup(_ctx, req) {
      lb.remove(keyOf(req));
      return {};
    },
  });
}

/** Once Services and EndpointSlices are synced: every Service into `lb`, then `prime()` (stale rows may go). */
export function lbPrimer(services: CacheReader<V1Service>, slices: CacheReader<V1EndpointSlice>, lb: LbSync, node: LbNode): Runnable {
  return {
    needLeaderElection: false,
    async start(signal) {
      if (!(await services.waitForSync(signal)) || !(await slices.waitForSync(signal))) return;
      const byService = new Map<string, V1EndpointSlice[]>();
      for (const s of slices.list()) {
        for (const key of serviceKeyOfSlice(s)) byService.set(key, [...(byService.get(key) ?? []), s]);
      }
      for (const svc of services.list()) lb.upsert(objectKey(svc), serviceFrontends(svc, byService.get(objectKey(svc)) ?? [], node));
      lb.prime();
    },
  };
}
