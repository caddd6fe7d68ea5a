// Writes a Valid condition on every CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy.
import type { CiliumClusterwideNetworkPolicy, CiliumNetworkPolicy } from '../crds/types.generated.ts';
import { cachedReconciler, Controller, setCondition, statusJsonPatch, type Condition, type Informer, type ResourceRef } from '../runtime/index.ts';
import { isConflict } from './api.ts';
import type { ReconcilerDeps } from './deps.ts';
import { parsePolicy } from '../policy/api/parse-policy.ts';
import type { PolicyParseResult } from '../policy/api/parse-cilium-policy.ts';
import { validCondition } from '../policy/api/condition.ts';

type Policy = CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy;

/** Validates a (clusterwide) network policy: the same parser and checks the agent applies. */
export type PolicyValidator = (obj: unknown) => PolicyParseResult;

/** The default validator. */
export const validatePolicy: PolicyValidator = (obj) => parsePolicy(obj);

/** The Valid condition for a validation outcome, without its transition time (setCondition keeps that). */
export function policyCondition(result: PolicyParseResult, generation: number | undefined): Omit<Condition, 'lastTransitionTime'> {
  const { lastTransitionTime: _t, ...condition } = validCondition(result);
  return { ...condition, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

/** A controller validating each policy of `policies` and writing its Valid condition to status. */
export function policyStatusController(
  deps: ReconcilerDeps,
  name: string,
  ref: ResourceRef,
  policies: Informer<Policy>,
  validate: PolicyValidator,
): Controller {
  const writer = deps.status(ref);
  const reconciler = cachedReconciler<Policy>(policies, {
    async apply(ctx, policy, req) {
      const update = policyCondition(validate(policy), policy.metadata?.generation);
      const { conditions, changed } = setCondition(policy.status?.conditions as Condition[] | undefined, update, new Date(deps.clock.now()));
      if (!changed) return;
      const ops = statusJsonPatch(policy, { status: { ...policy.status, conditions } }, { guardResourceVersion: true });
      try {
        await writer.jsonPatch(req, ops);
      } catch (err) {
        if (!isConflict(err)) throw err;
        return { requeueAfterMs: 1000 }; // the cache will show the newer object by then
      }
    },
  });
  return new Controller({ name, reconciler, log: deps.log, registry: deps.registry, clock: deps.clock, workers: 2 }).for(policies);
}
