// Writes a Valid condition on every CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy.
import type { CiliumClusterwideNetworkPolicy, CiliumNetworkPolicy } from '../crds/types.generated.ts';
import { cachedReconciler, Controller, setCondition, statusJsonPatch, type Condition, type Informer, type ResourceRef } from '../runtime/index.ts';
import { isConflict } from './api.ts';
import type { ReconcilerDeps } from './deps.ts';
import type { PolicyValidator } from './policy-validator-standin.ts';

type Policy = CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy;

/** The Valid condition for a validation outcome (the message is the validator's when invalid). */
export function validCondition(result: ReturnType<PolicyValidator>, generation: number | undefined): Omit<Condition, 'lastTransitionTime'> {
  return {
    type: 'Valid',
    status: result.valid ? 'True' : 'False',
    reason: result.valid ? 'Valid' : 'Invalid',
    message: result.valid ? 'Policy validation succeeded' : (result.message ?? 'Policy validation failed'),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
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
      const update = validCondition(validate(policy), policy.metadata?.generation);
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
