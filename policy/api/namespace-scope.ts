/**
 * Namespace scoping of subjects and peers, as upstream applies it:
 *   - a CNP subject always gets `k8s:io.kubernetes.pod.namespace=<ns>` (other namespace
 *     requirements the user wrote are dropped with a warning); a CCNP subject is left alone;
 *   - a peer endpoint selector without a namespace requirement gets the policy's namespace in a
 *     CNP (unless it selects on namespace labels), and "namespace exists" in a CCNP; selectors on
 *     reserved labels are left alone.
 */
import { NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_LABEL } from '../../identity/pod-labels.ts';
import type { LabelSelectorSpec, PolicyKind, Requirement } from './model.ts';
import { labelSelector, requirement } from './parse-selector.ts';

/** Where a rule lives: its kind and, for namespaced kinds, its namespace. */
export interface ScopeContext {
  readonly kind: PolicyKind;
  readonly namespace?: string;
}

const isNamespaceKey = (r: Requirement) =>
  (r.source === 'k8s' || r.source === 'any') && r.key === POD_NAMESPACE_LABEL;

/** Scopes a subject (endpointSelector) to the policy's namespace. */
export function scopeSubject(sel: LabelSelectorSpec, ctx: ScopeContext, warn: (m: string) => void): LabelSelectorSpec {
  if (ctx.namespace === undefined) return sel;
  const foreign = sel.requirements.filter(isNamespaceKey);
  if (foreign.some((r) => !(r.operator === 'In' && r.values.length === 1 && r.values[0] === ctx.namespace))) {
    warn(`endpointSelector: namespace requirement replaced by the policy namespace ${ctx.namespace}`);
  }
  return labelSelector([
    ...sel.requirements.filter((r) => !isNamespaceKey(r)),
    requirement('k8s', POD_NAMESPACE_LABEL, 'In', [ctx.namespace]),
  ]);
}

/** Scopes a peer endpoint selector (fromEndpoints/toEndpoints). */
export function scopePeer(sel: LabelSelectorSpec, ctx: ScopeContext): LabelSelectorSpec {
  const reqs = sel.requirements;
  if (reqs.some(isNamespaceKey)) return sel;
  if (reqs.some((r) => r.source === 'reserved')) return sel;
  if (ctx.namespace !== undefined) {
    if (reqs.some((r) => r.key.startsWith(NAMESPACE_LABELS_PREFIX))) return sel;
    return labelSelector([...reqs, requirement('k8s', POD_NAMESPACE_LABEL, 'In', [ctx.namespace])]);
  }
  return labelSelector([...reqs, requirement('k8s', POD_NAMESPACE_LABEL, 'Exists')]);
}
