/**
 * Services and EndpointSlices (discovery.k8s.io/v1) into the node's LB maps. Level-triggered per
 * Service: its ClusterIP frontends (one per port) get the ready endpoints of its slices as backends,
 * with the slice port of the same name. Not ready (including terminating) endpoints get no new
 * connections; established flows keep their backend in the datapath. Headless Services and
 * Services without an IPv4 ClusterIP have no frontend.
 */
import type { KubernetesObject, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { keyOf, type Reconciler } from '../runtime/reconcile.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Runnable } from '../runtime/manager.ts';
import { objectKey } from '../runtime/resource.ts';
import type { ResourceRef } from '../runtime/resource.ts';
import { LB_PROTO, type L4Addr } from '../datapath/maps/lb.ts';
import type { LbSync, ServiceFrontend } from './lb-sync.ts';

/** Service. */
export const SERVICE_REF: ResourceRef = { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true };
/** EndpointSlice. */
export const ENDPOINT_SLICE_REF: ResourceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true };
/** The label naming a slice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

function protoOf(p: string | undefined): number | undefined {
  const name = p ?? 'TCP';
  return name === 'TCP' ? LB_PROTO.TCP : name === 'UDP' ? LB_PROTO.UDP : undefined;
}

/** The frontends of a Service with the ready backends its slices list. */
export function serviceFrontends(svc: V1Service, slices: V1EndpointSlice[]): ServiceFrontend[] {
  const vip = svc.spec?.clusterIP;
  if (!vip || !IPV4.test(vip)) return [];
  return (svc.spec?.ports ?? []).flatMap((port) => {
    const proto = protoOf(port.protocol);
    if (proto === undefined) return [];
    const backends: L4Addr[] = [];
    for (const slice of slices) {
      if (slice.addressType !== 'IPv4') continue;
      const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? '') && protoOf(p.protocol) === proto);
      if (!sp?.port) continue;
      for (const ep of slice.endpoints ?? []) {
        if (ep.conditions?.ready === false) continue;
        for (const ip of ep.addresses) if (IPV4.test(ip)) backends.push({ ip, port: sp.port, proto });
      }
    }
    return [{ frontend: { ip: vip, port: port.port, proto }, backends }];
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
export function serviceLbReconciler(services: CacheReader<V1Service>, slices: CacheReader<V1EndpointSlice>, lb: LbSync): Reconciler {
  return cachedReconciler(services, {
    async apply(_ctx, svc, req) {
      lb.upsert(keyOf(req), serviceFrontends(svc, slicesOf(slices, svc.metadata?.namespace ?? '', svc.metadata?.name ?? '')));
      return {};
    },
    async cleanup(_ctx, req) {
      lb.remove(keyOf(req));
      return {};
    },
  });
}

/** Once Services and EndpointSlices are synced: every Service into `lb`, then `prime()` (stale rows may go). */
export function lbPrimer(services: CacheReader<V1Service>, slices: CacheReader<V1EndpointSlice>, lb: LbSync): Runnable {
  return {
    needLeaderElection: false,
    async start(signal) {
      if (!(await services.waitForSync(signal)) || !(await slices.waitForSync(signal))) return;
      for (const svc of services.list()) {
        lb.upsert(objectKey(svc), serviceFrontends(svc, slicesOf(slices, svc.metadata?.namespace ?? '', svc.metadata?.name ?? '')));
      }
      lb.prime();
    },
  };
}
