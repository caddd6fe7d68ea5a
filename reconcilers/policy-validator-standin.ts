// STAND-IN policy validator, to be replaced by the full CiliumNetworkPolicy validator from policy/.
// It only checks the overall shape: spec and/or specs present and not empty, and every rule selecting with
// exactly one of endpointSelector / nodeSelector. The lead plugs the real validator into
// `operator/operator.ts` (the `validate` option of buildOperator).

/** Outcome of validating one policy object. */
export interface ValidationResult {
  /** Whether the policy is valid. */
  valid: boolean;
  /** Why not, when invalid. */
  message?: string;
}

/** The function the policy-status reconciler calls for each (clusterwide) network policy. */
export type PolicyValidator = (obj: unknown) => ValidationResult;

/** Minimal stand-in {@link PolicyValidator}; see the file comment. */
export const standInValidator: PolicyValidator = (obj) => {
  const o = (obj ?? {}) as { spec?: unknown; specs?: unknown };
  if (o.spec === undefined && o.specs === undefined) return { valid: false, message: 'policy has neither spec nor specs' };
  if (o.specs !== undefined && !Array.isArray(o.specs)) return { valid: false, message: 'specs must be a list of rules' };
  if (o.spec === undefined && Array.isArray(o.specs) && o.specs.length === 0) return { valid: false, message: 'empty policy: specs has no rules' };
  const rules: Array<[string, unknown]> = [];
  if (o.spec !== undefined) rules.push(['spec', o.spec]);
  (Array.isArray(o.specs) ? o.specs : []).forEach((r, i) => rules.push([`specs[${i}]`, r]));
  for (const [where, rule] of rules) {
    if (!rule || typeof rule !== 'object') return { valid: false, message: `${where} must be a rule object` };
    const r = rule as { endpointSelector?: unknown; nodeSelector?: unknown };
    const selectors = Number(r.endpointSelector !== undefined) + Number(r.nodeSelector !== undefined);
    if (selectors !== 1) {
      return { valid: false, message: `${where}: a rule needs exactly one of endpointSelector or nodeSelector` };
    }
  }
  return { valid: true };
};
