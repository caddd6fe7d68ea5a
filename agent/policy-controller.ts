/**
 * Feeds one policy kind (CNP, CCNP or Kubernetes NetworkPolicy) through the policy feed (engine,
 * CIDR identities, ipcache) into the kernel. An object that fails validation is logged and skipped:
 * the previous valid version of it stays enforced, also across an agent restart (`ValidPolicies`;
 * the operator reports the error on the object's Valid condition), so bad input never removes
 * protection that was already there. An update that leaves the spec and labels as they were (a
 * status write: generation unchanged) is not fed again, so the policy revision moves only when a
 * policy does, as upstream's.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { PolicyKind } from '../policy/api/model.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import type { PolicyFeed } from './policy-feed.ts';
import type { ValidPolicies } from './valid-policies.ts';

/** The reconciler of one policy kind. */
export function policyReconciler(kind: PolicyKind, cache: CacheReader<KubernetesObject>, feed: PolicyFeed, valid: ValidPolicies): Reconciler {
  /** What was fed last per object: uid, generation and labels (objects without a generation are always fed). */
  const fed = new Map<string, string>();
  return cachedReconciler(cache, {
    async apply(_ctx, obj) {
      const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
      const m = obj.metadata;
      const mark = m?.generation === undefined ? undefined : JSON.stringify([m.uid, m.generation, m.labels ?? {}]);
      if (mark !== undefined && fed.get(key) === mark) return {};
      const parsed = valid.resolve(kind, obj);
      if (parsed) feed.upsertPolicy(parsed);
      if (mark !== undefined) fed.set(key, mark);
      return {};
    },
    async cleanup(_ctx, req) {
      fed.delete(`${req.namespace ?? ''}/${req.name}`);
      feed.deletePolicy(kind, req.namespace, req.name);
      valid.forget(kind, req.namespace, req.name);
      return {};
    },
  });
}
