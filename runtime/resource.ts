// Identifying an API resource and building its REST paths and object keys.
import type { KubernetesObject } from '@kubernetes/client-node';

/** Which API resource an informer or status writer talks to. */
export interface ResourceRef {
  /** `v1` for the core group, otherwise `group/version` (e.g. `cilium.io/v2`). */
  readonly apiVersion: string;
  /** Kind, e.g. `CiliumNetworkPolicy`. */
  readonly kind: string;
  /** Lower-case plural resource name used in URLs, e.g. `ciliumnetworkpolicies`. */
  readonly plural: string;
  /** Whether objects live in namespaces. */
  readonly namespaced: boolean;
}

/**
 * REST path of the collection of `ref`: across all namespaces when `namespace` is omitted,
 * otherwise within it; with `name` (and optional `subresource`) the path of one object.
 */
export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  const root = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const ns = ref.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  let path = `${root}${ns}/${ref.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (name !== undefined && subresource) path += `/${subresource}`;
  return path;
}

/** Cache key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(obj: KubernetesObject): string {
  const name = obj.metadata?.name ?? '';
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

/** The object's resourceVersion, or '' when it has none. */
export function resourceVersionOf(obj: KubernetesObject): string {
  return obj.metadata?.resourceVersion ?? '';
}
