/**
 * One entry point for any policy object from the apiserver: dispatches on `kind`.
 */
import { type ParseOptions, type PolicyParseResult, parseCiliumPolicy } from './parse-cilium-policy.ts';
import { parseK8sNetworkPolicy } from './parse-k8s-policy.ts';

/** Parses a CNP, CCNP or Kubernetes NetworkPolicy given as raw JSON. */
export function parsePolicy(raw: unknown, options: ParseOptions = {}): PolicyParseResult {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  return kind === 'NetworkPolicy' ? parseK8sNetworkPolicy(raw) : parseCiliumPolicy(raw, options);
}
