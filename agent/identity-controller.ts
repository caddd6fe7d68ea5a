/**
 * Keeps the selector cache's view of cluster identities equal to the CiliumIdentity objects, so
 * that selectors (fromEndpoints, toEndpoints, ...) resolve to the numbers other nodes' pods carry.
 */
import type { EndpointDiffs, PolicyEngine } from '../policy/engine.ts';
import { labelsOfCiliumIdentity, type CiliumIdentityObject } from '../identity/ciliumidentity.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Reconciler } from '../runtime/reconcile.ts';

/**
 * The reconciler of CiliumIdentity objects; `apply` gets the diffs and the identities added or
 * relabelled; `inUseLocally` protects identities of local endpoints.
 */
export function identityReconciler(
  cache: CacheReader<CiliumIdentityObject>, engine: PolicyEngine, apply: (diffs: EndpointDiffs, added: number[]) => void,
  inUseLocally: (id: number) => boolean,
): Reconciler {
  return cachedReconciler(cache, {
    async apply(_ctx, obj) {
      const id = Number(obj.metadata?.name);
      if (Number.isInteger(id) && id > 0) apply(engine.updateIdentities([[id, labelsOfCiliumIdentity(obj)]]), [id]);
      return {};
    },
    async cleanup(_ctx, req) {
      const id = Number(req.name);
      if (Number.isInteger(id) && !inUseLocally(id)) apply(engine.updateIdentities([], [id]), []);
      return {};
    },
  });
}
