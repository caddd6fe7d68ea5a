/**
 * The `Valid` status condition of a policy object, from its parse result.
 */
import { formatValidationError } from './errors.ts';
import type { PolicyParseResult } from './parse-cilium-policy.ts';

/** A Kubernetes-style status condition. */
export interface PolicyCondition {
  type: 'Valid';
  status: 'True' | 'False';
  reason: 'PolicyValid' | 'PolicyInvalid';
  message: string;
  lastTransitionTime: string;
}

/**
 * Builds the `Valid` condition. When `previous` has the same status its lastTransitionTime is kept
 * (the condition only "transitions" when the status flips).
 */
export function validCondition(result: PolicyParseResult, now: Date = new Date(), previous?: PolicyCondition): PolicyCondition {
  const valid = result.errors.length === 0;
  const status = valid ? 'True' : 'False';
  const message = valid
    ? `Policy validation succeeded${result.warnings.length > 0 ? ` (warnings: ${result.warnings.join('; ')})` : ''}`
    : `Policy validation failed: ${result.errors.map(formatValidationError).join('; ')}`;
  return {
    type: 'Valid',
    status,
    reason: valid ? 'PolicyValid' : 'PolicyInvalid',
    message,
    lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now.toISOString(),
  };
}
