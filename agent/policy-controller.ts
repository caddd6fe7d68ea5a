/**
 * Feeds one policy kind (CNP, CCNP or Kubernetes NetworkPolicy) into the policy engine and the
 * resulting map-state diffs into the kernel. An object that fails validation is logged and skipped:
 * the previous valid version of it stays enforced (the operator reports the error on the object's
 * Valid condition), so bad input never removes protection that was already there.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { parsePolicy } from '../policy/api/parse-policy.ts';
import { formatValidationError } from '../policy/api/errors.ts';
import type { PolicyKind } from '../policy/api/model.ts';
import type { EndpointDiffs, PolicyEngine } from '../policy/engine.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Reconciler } from '../runtime/reconcile.ts';

/** The reconciler of one policy kind. */
export function policyReconciler(
  kind: PolicyKind, cache: CacheReader<KubernetesObject>, engine: PolicyEngine,
  apply: (diffs: EndpointDiffs) => void, log: Logger, clusterName: string,
): Reconciler {
  return cachedReconciler(cache, {
    async apply(_ctx, obj) {
      const parsed = parsePolicy(obj, { clusterName });
      const where = `${kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}`;
      if (parsed.errors.length > 0) {
        log.warn('invalid policy not applied; its previous version stays enforced', { policy: where, errors: parsed.errors.map(formatValidationError) });
        return {};
      }
      apply(engine.upsertPolicy(parsed));
      return {};
    },
    async cleanup(_ctx, req) {
      apply(engine.deletePolicy(kind, req.namespace, req.name));
      return {};
    },
  });
}
