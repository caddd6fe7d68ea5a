/**
 * The policy repository: the parsed rules of every policy object, with a revision that grows on
 * each change, and the question "which rules select this endpoint".
 */
import type { LabelSet } from '../identity/labels.ts';
import type { PolicyKind, PolicyRule } from './api/model.ts';
import type { PolicyParseResult } from './api/parse-cilium-policy.ts';
import { compileSelector } from './selector-match.ts';
import { SubjectIndex } from './subject-index.ts';

/** Identifies a policy object. */
export function policyKey(kind: PolicyKind, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

/** `source:key` of the label only the host endpoint carries. */
const HOST_LABEL = 'reserved:host';

const subjectMatchers = new WeakMap<PolicyRule, (labels: LabelSet) => boolean>();

/**
 * True when `rule` applies to an endpoint with `labels`. Host policies (nodeSelector) apply only
 * to the host endpoint (`reserved:host`), and endpointSelector rules never do.
 */
export function ruleSelects(rule: PolicyRule, labels: LabelSet): boolean {
  if (rule.hostPolicy !== (labels.getSourceKey(HOST_LABEL) !== undefined)) return false;
  let m = subjectMatchers.get(rule);
  if (!m) subjectMatchers.set(rule, (m = compileSelector(rule.subject)));
  return m(labels);
}

function reuseIfEqual(rule: PolicyRule, previous: PolicyRule | undefined): PolicyRule {
  return previous !== undefined && JSON.stringify(previous) === JSON.stringify(rule) ? previous : rule;
}

/** All parsed policies. Invalid policies are stored but contribute no rules. */
export class PolicyRepository {
  readonly #policies = new Map<string, PolicyParseResult>();
  #revision = 0;
  #rules: PolicyRule[] | undefined;
  #subjects: SubjectIndex | undefined;

  /** Grows by one on every change. */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Stores (or replaces) a parsed policy; returns the previous version. Rules equal to the
   * previous version's rule at the same index keep their old object, so consumers comparing
   * rules by identity skip them.
   */
  upsert(result: PolicyParseResult): PolicyParseResult | undefined {
    const key = policyKey(result.kind, result.namespace, result.name);
    const old = this.#policies.get(key);
    const stored = old ? { ...result, rules: result.rules.map((r, i) => reuseIfEqual(r, old.rules[i])) } : result;
    this.#policies.set(key, stored);
    this.#revision++;
    this.#rules = undefined;
    this.#subjects = undefined;
    return old;
  }

  /** Removes a policy; returns it if it existed. */
  delete(kind: PolicyKind, namespace: string | undefined, name: string): PolicyParseResult | undefined {
    const key = policyKey(kind, namespace, name);
    const old = this.#policies.get(key);
    if (old) {
      this.#policies.delete(key);
      this.#revision++;
      this.#rules = undefined;
      this.#subjects = undefined;
    }
    return old;
  }

  /** Every rule of every valid policy. */
  rules(): readonly PolicyRule[] {
    return (this.#rules ??= [...this.#policies.values()].flatMap((p) => p.rules));
  }

  /** The rules whose subject selects `labels`. */
  rulesSelecting(labels: LabelSet): PolicyRule[] {
    this.#subjects ??= new SubjectIndex(this.rules());
    return this.#subjects.candidates(labels).filter((r) => ruleSelects(r, labels));
  }
}
