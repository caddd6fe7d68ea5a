/**
 * Fill the ipcache from the cluster: every CiliumEndpoint's addresses with its identity (pods on all
 * nodes), and every Node's InternalIP as the local host (identity 1) or a remote node (identity 6).
 */
import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { keyOf } from '../runtime/reconcile.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import type { IpcacheSource, IpcacheSync } from './ipcache-sync.ts';

/** The reserved identity of the local host. */
export const HOST_IDENTITY = 1;
/** The reserved identity of other nodes. */
export const REMOTE_NODE_IDENTITY = 6;

/** The fields of a CiliumEndpoint the ipcache reads. */
export interface CiliumEndpointLike extends KubernetesObject {
  status?: { identity?: { id?: number }; networking?: { addressing?: { ipv4?: string }[] } };
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
    return (cep.status?.networking?.addressing ?? []).flatMap((a) => (a.ipv4 ? [{ ip: a.ipv4, identity: id }] : []));
  });
}

/** Nodes' InternalIPs into the ipcache: this node as host, others as remote-node. */
export function nodeIpcacheReconciler(cache: CacheReader<V1Node>, ipcache: IpcacheSync, nodeName: string): Reconciler {
  return claimsReconciler(cache, ipcache, 'node', (node) => (node.status?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address))
    .map((a) => ({ ip: a.address, identity: node.metadata?.name === nodeName ? HOST_IDENTITY : REMOTE_NODE_IDENTITY })));
}
