/**
 * Rules indexed by their subject, so finding the rules that select an endpoint tests only rules
 * that can: each rule is filed under the values of one `In` requirement of its subject (the one
 * with the fewest values), and an endpoint carrying none of those key/value pairs cannot be
 * selected by it. Rules without an `In` requirement are always candidates.
 */
import type { LabelSet } from '../identity/labels.ts';
import type { PolicyRule } from './api/model.ts';

/** The rules of a repository by subject key and value (any source). */
export class SubjectIndex {
  readonly #byKey = new Map<string, Map<string, PolicyRule[]>>();
  readonly #always: PolicyRule[] = [];
  readonly #position = new Map<PolicyRule, number>();

  /** Indexes `rules` (their order is the order candidates come back in). */
  constructor(rules: readonly PolicyRule[]) {
    rules.forEach((rule, i) => {
      this.#position.set(rule, i);
      let anchor: readonly string[] | undefined;
      let key = '';
      for (const r of rule.subject.requirements) {
        if (r.operator !== 'In' || (anchor && anchor.length <= r.values.length)) continue;
        [anchor, key] = [r.values, r.key];
      }
      if (!anchor) {
        this.#always.push(rule);
        return;
      }
      let byValue = this.#byKey.get(key);
      if (!byValue) this.#byKey.set(key, (byValue = new Map()));
      for (const value of anchor) {
        const list = byValue.get(value);
        if (list) list.push(rule);
        else byValue.set(value, [rule]);
      }
    });
  }

  /** The rules whose subject may select `labels` (a superset), in rule order. */
  candidates(labels: LabelSet): PolicyRule[] {
    const found = new Set(this.#always);
    for (const l of labels.labels) {
      const list = this.#byKey.get(l.key)?.get(l.value);
      if (list) for (const rule of list) found.add(rule);
    }
    return [...found].sort((a, b) => this.#position.get(a)! - this.#position.get(b)!);
  }
}
