/**
 * Parsing Kubernetes-style label selectors (`matchLabels`, `matchExpressions`) whose keys may
 * carry a source prefix (`k8s:app`, `reserved:host`; no prefix means `any:`).
 */
import { splitSourceKey } from '../../identity/labels.ts';
import { ErrorCollector, join } from './errors.ts';
import type { LabelSelectorSpec, Requirement, RequirementOperator } from './model.ts';

const OPERATORS: readonly RequirementOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** Builds a requirement, sorting values. */
export function requirement(
  source: Requirement['source'], key: string, operator: RequirementOperator, values: readonly string[] = [],
): Requirement {
  return { source, key, operator, values: [...new Set(values)].sort() };
}

/** Orders requirements canonically (by source, key, operator, values). */
export function sortRequirements(reqs: readonly Requirement[]): Requirement[] {
  const text = (r: Requirement) => `${r.source}:${r.key}\u0000${r.operator}\u0000${r.values.join('\u0001')}`;
  const seen = new Map<string, Requirement>();
  for (const r of reqs) seen.set(text(r), r);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

/** A selector from requirements (canonically ordered). */
export function labelSelector(reqs: readonly Requirement[]): LabelSelectorSpec {
  return { kind: 'labels', requirements: sortRequirements(reqs) };
}

/**
 * Parses an EndpointSelector / LabelSelector at `path`. Returns undefined (with errors recorded)
 * when it is malformed.
 */
export function parseLabelSelector(
  raw: unknown, path: string, errs: ErrorCollector, defaultSource: Requirement['source'] = 'any',
): LabelSelectorSpec | undefined {
  const obj = errs.object(raw, path);
  if (raw !== undefined && raw !== null && !obj) return undefined;
  const before = errs.errors.length;
  const reqs: Requirement[] = [];
  if (obj) {
    const ml = errs.object(obj.matchLabels, join(path, 'matchLabels'));
    for (const [k, v] of Object.entries(ml ?? {})) {
      const p = `${join(path, 'matchLabels')}[${JSON.stringify(k)}]`;
      if (typeof v !== 'string') {
        errs.add(p, 'value must be a string');
        continue;
      }
      const { source, key } = splitSourceKey(k, defaultSource);
      if (key === '') errs.add(p, 'empty label key');
      reqs.push(requirement(source, key, 'In', [v]));
    }
    errs.array(obj.matchExpressions, join(path, 'matchExpressions')).forEach((e, i) => {
      const r = parseExpression(e, `${join(path, 'matchExpressions')}[${i}]`, errs, defaultSource);
      if (r) reqs.push(r);
    });
  }
  return errs.errors.length === before ? labelSelector(reqs) : undefined;
}

function parseExpression(
  raw: unknown, path: string, errs: ErrorCollector, defaultSource: Requirement['source'],
): Requirement | undefined {
  const obj = errs.object(raw, path);
  if (!obj) {
    if (raw === undefined || raw === null) errs.add(path, 'must be an object');
    return undefined;
  }
  const keyText = errs.string(obj.key, join(path, 'key'));
  const op = errs.string(obj.operator, join(path, 'operator'));
  const values = errs.strings(obj.values, join(path, 'values'));
  if (!keyText) {
    errs.add(join(path, 'key'), 'required');
    return undefined;
  }
  if (!op || !OPERATORS.includes(op as RequirementOperator)) {
    errs.add(join(path, 'operator'), `must be one of ${OPERATORS.join(', ')}`);
    return undefined;
  }
  const operator = op as RequirementOperator;
  if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
    errs.add(join(path, 'values'), `must be non-empty for operator ${operator}`);
    return undefined;
  }
  if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
    errs.add(join(path, 'values'), `must be empty for operator ${operator}`);
    return undefined;
  }
  const { source, key } = splitSourceKey(keyText, defaultSource);
  return requirement(source, key, operator, values);
}
