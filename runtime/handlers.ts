// Mapping informer changes to queue keys: self, owner, or any custom mapping.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { CacheReader, ChangeEvent } from './informer.ts';
import { objectKey } from './resource.ts';

/** Maps an object to the keys (`namespace/name` or `name`) of the objects to reconcile. */
export type KeyMapper<T> = (obj: T) => Iterable<string>;

/** Reconcile the object itself. */
export function mapSelf<T extends KubernetesObject>(obj: T): Iterable<string> {
  return [objectKey(obj)];
}

/**
 * Reconcile the object's controlling owner of kind `kind` (and, if given, API group `group`).
 * Owners of namespaced objects are looked up in the same namespace; with `clusterScopedOwner`
 * the key is the bare owner name.
 */
export function mapOwner<T extends KubernetesObject>(
  kind: string,
  opts: { group?: string; controllerOnly?: boolean; clusterScopedOwner?: boolean } = {},
): KeyMapper<T> {
  return (obj) => {
    const keys: string[] = [];
    for (const ref of obj.metadata?.ownerReferences ?? []) {
      if (ref.kind !== kind) continue;
      if (opts.group !== undefined && groupOf(ref.apiVersion) !== opts.group) continue;
      if ((opts.controllerOnly ?? true) && !ref.controller) continue;
      const ns = opts.clusterScopedOwner ? undefined : obj.metadata?.namespace;
      keys.push(ns ? `${ns}/${ref.name}` : ref.name);
    }
    return keys;
  };
}

/**
 * Reconcile every object of `cache` that `matches` the changed object, e.g. every policy whose
 * selector matches a changed pod, or every object in a changed namespace. Cost is one predicate
 * call per cached object per change, so keep `matches` cheap.
 */
export function mapMatching<P extends KubernetesObject, T>(cache: CacheReader<P>, matches: (candidate: P, changed: T) => boolean): KeyMapper<T> {
  return (changed) => cache.list().filter((candidate) => matches(candidate, changed)).map(objectKey);
}

/** Keys to enqueue for one change: mapped from the new and, for updates, the old object. */
export function keysForChange<T>(event: ChangeEvent<T>, mapper: KeyMapper<T>): Set<string> {
  const keys = new Set(mapper(event.object));
  if (event.old) for (const k of mapper(event.old)) keys.add(k);
  return keys;
}

/** API group of an apiVersion: '' for `v1`, `cilium.io` for `cilium.io/v2`. */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
