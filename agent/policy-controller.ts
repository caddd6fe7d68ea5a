/**
 * Feeds one policy kind (CNP, CCNP or Kubernetes NetworkPolicy) through the policy feed (engine,
 * CIDR identities, ipcache) into the kernel. An object that fails validation is logged and skipped:
 * the previous valid version of it stays enforced (the operator reports the error on the object's
 * Valid condition), so bad input never removes protection that was already there.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { parsePolicy } from '../policy/api/parse-policy.ts';
import { formatValidationError } from '../policy/api/errors.ts';
import type { PolicyKind } from '../policy/api/model.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import type { PolicyFeed } from './policy-feed.ts';

/** The reconciler of one policy kind. */
export function policyReconciler(
  kind: PolicyKind, cache: CacheReader<KubernetesObject>, feed: PolicyFeed, log: Logger, clusterName: string,
): Reconciler {
  return cachedReconciler(cache, {
    async apply(_ctx, obj) {
      const parsed = parsePolicy(obj, { clusterName });
      const where = `${kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}`;
      if (parsed.errors.length > 0) {
        log.warn('invalid policy not applied; its previous version stays enforced', { policy: where, errors: parsed.errors.map(formatValidationError) });
        return {};
      }
      feed.upsertPolicy(parsed);
      return {};
    },
    async cleanup(_ctx, req) {
      feed.deletePolicy(kind, req.namespace, req.name);
      return {};
    },
  });
}
