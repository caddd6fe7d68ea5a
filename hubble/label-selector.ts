/**
 * Hubble's label filters: Kubernetes label selector syntax (`app=web,tier!=db`, `env in (a,b)`,
 * `!legacy`, `team`) over a flow endpoint's labels (`source:key=value` strings). A key with a
 * source (`k8s:app`) matches only labels of that source; a key without one matches any source.
 * Only the text grammar is Hubble's: requirements and their matching are the policy engine's
 * (policy/selector-match.ts), over the endpoint's labels parsed once per labels array.
 */
import { LabelSet, splitSourceKey } from '../identity/labels.ts';
import type { Requirement } from '../policy/api/model.ts';
import { labelSelector, requirement } from '../policy/api/parse-selector.ts';
import { compileSelector } from '../policy/selector-match.ts';

/** Label arrays already parsed (a flow's ends share their arrays across the flows of a batch). */
const parsedLabels = new WeakMap<readonly string[], LabelSet>();

function labelSetOf(labels: readonly string[]): LabelSet {
  let set = parsedLabels.get(labels);
  if (!set) parsedLabels.set(labels, (set = LabelSet.parse(labels)));
  return set;
}

/** A parsed selector: every requirement must hold. */
export type LabelSelector = (labels: readonly string[]) => boolean;

const KEY = /^(?:([A-Za-z0-9_.-]+):)?([A-Za-z0-9_./-]+)$/;

/** Parses a selector; throws an Error describing what is wrong. */
export function parseLabelSelector(text: string): LabelSelector {
  const reqs = splitRequirements(text).map(parseRequirement);
  if (reqs.length === 0) throw new Error(`empty label selector "${text}"`);
  const matches = compileSelector(labelSelector(reqs));
  return (labels) => matches(labelSetOf(labels));
}

/** Splits at commas outside parentheses. */
function splitRequirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/** A key as `source:key` (any source when none is given). */
function parseKey(raw: string): { source: Requirement['source']; key: string } {
  if (!KEY.test(raw.trim())) throw new Error(`invalid label key "${raw.trim()}"`);
  return splitSourceKey(raw.trim(), 'any');
}

function parseRequirement(text: string): Requirement {
  const req = (raw: string, op: Requirement['operator'], values: string[] = []) => {
    const { source, key } = parseKey(raw);
    return requirement(source, key, op, values);
  };
  if (text.startsWith('!')) return req(text.slice(1), 'DoesNotExist');
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (set) return req(set[1]!, set[2] === 'in' ? 'In' : 'NotIn', set[3]!.split(',').map((v) => v.trim()).filter((v) => v !== ''));
  const cmp = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(text);
  if (cmp) {
    const value = cmp[3]!.trim();
    if (!/^[A-Za-z0-9_.-]*$/.test(value)) throw new Error(`invalid label value "${value}"`);
    return req(cmp[1]!, cmp[2] === '!=' ? 'NotIn' : 'In', [value]);
  }
  return req(text, 'Exists');
}
