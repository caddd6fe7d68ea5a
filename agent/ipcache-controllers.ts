/**
 * Fill the ipcache from the cluster: every CiliumEndpoint's addresses with its identity (pods on all
 * nodes), every Node's addresses as the local host (identity 1) or a remote node (identity 6), and
 * the apiserver's endpoints (the `default/kubernetes` Service's EndpointSlices) as kube-apiserver
 * (identity 7).
 */
import type { KubernetesObject, V1EndpointSlice, V1Node } from '@kubernetes/client-node';
import { ReservedIdentity } from '../identity/numeric.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { keyOf } from '../runtime/reconcile.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import type { IpcacheSource, IpcacheSync } from './ipcache-sync.ts';

/** The node addresses the ipcache places (upstream places every address a Node reports). */
const NODE_ADDRESS_TYPES = new Set(['InternalIP', 'ExternalIP']);
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/** The fields of a CiliumEndpoint the ipcache reads. */
export interface CiliumEndpointLike extends KubernetesObject {
  status?: { identity?: { id?: number }; networking?: { addressing?: { ipv4?: string }[] } };
}

/** The IPv4 addresses a CiliumEndpoint reports. */
export function cepAddresses(cep: CiliumEndpointLike): string[] {
  return (cep.status?.networking?.addressing ?? []).flatMap((a) => (a.ipv4 ? [a.ipv4] : []));
}

/** Claims per object key, so a changed or deleted object's old addresses are released. */
function claimsReconciler<T>(
  cache: CacheReader<T>, ipcache: IpcacheSync, source: IpcacheSource,
  rowsOf: (obj: T) => Array<{ ip: string; identity: number }>,
): Reconciler {
  const claimed = new Map<string, Set<string>>();
  const release = (key: string, keep: Set<string>) => {
    for (const ip of claimed.get(key) ?? []) if (!keep.has(ip)) ipcache.remove(source, ip);
  };
  return cachedReconciler(cache, {
    async apply(_ctx, obj, req) {
      const rows = rowsOf(obj);
      const key = keyOf(req);
      const now = new Set(rows.map((r) => r.ip));
      release(key, now);
      for (const r of rows) ipcache.upsert(source, r.ip, { identity: r.identity });
      claimed.set(key, now);
      return {};
    },
    async cleanup(_ctx, req) {
      const key = keyOf(req);
      release(key, new Set());
      claimed.delete(key);
      return {};
    },
  });
}

/** CiliumEndpoints into the ipcache. */
export function endpointIpcacheReconciler(cache: CacheReader<CiliumEndpointLike>, ipcache: IpcacheSync): Reconciler {
  return claimsReconciler(cache, ipcache, 'endpoint', (cep) => {
    const id = cep.status?.identity?.id;
    if (!id) return [];
    return cepAddresses(cep).map((ip) => ({ ip, identity: id }));
  });
}

/** Nodes' addresses into the ipcache: this node as host, others as remote-node. */
export function nodeIpcacheReconciler(cache: CacheReader<V1Node>, ipcache: IpcacheSync, nodeName: string): Reconciler {
  return claimsReconciler(cache, ipcache, 'node', (node) => (node.status?.addresses ?? [])
    .filter((a) => NODE_ADDRESS_TYPES.has(a.type) && IPV4.test(a.address))
    .map((a) => ({ ip: a.address, identity: node.metadata?.name === nodeName ? ReservedIdentity.host : ReservedIdentity['remote-node'] })));
}

/** True for an EndpointSlice of the apiserver's own Service (`default/kubernetes`). */
export function isApiserverSlice(slice: V1EndpointSlice): boolean {
  return slice.metadata?.namespace === 'default' && slice.metadata?.labels?.['kubernetes.io/service-name'] === 'kubernetes';
}

/** The apiserver's endpoint addresses into the ipcache as kube-apiserver. */
export function apiserverIpcacheReconciler(cache: CacheReader<V1EndpointSlice>, ipcache: IpcacheSync): Reconciler {
  return claimsReconciler(cache, ipcache, 'apiserver', (slice) => (isApiserverSlice(slice) && slice.addressType === 'IPv4'
    ? (slice.endpoints ?? []).flatMap((e) => e.addresses).filter((a) => IPV4.test(a)).map((ip) => ({ ip, identity: ReservedIdentity['kube-apiserver'] }))
    : []));
}
