/**
 * Parsing one `api.Rule` (a CNP/CCNP `spec` or `specs[i]`) into a {@link PolicyRule}.
 * `fromRequires`/`toRequires` of all elements of one list are ANDed onto every endpoint selector
 * of that list; they never grant anything themselves.
 */
import { label } from '../../identity/labels.ts';
import { ErrorCollector, join } from './errors.ts';
import type { Direction, LabelSelectorSpec, PeerRule, PeerSelector, PolicyRule, RuleOrigin } from './model.ts';
import { type ScopeContext, scopeSubject } from './namespace-scope.ts';
import { type ParsedElement, parseElement } from './parse-peer-rule.ts';
import { labelSelector, parseLabelSelector, requirement } from './parse-selector.ts';

/** Options for parsing one rule. */
export interface RuleContext extends ScopeContext {
  readonly name: string;
  readonly ruleIndex: number;
  readonly clusterName: string;
  readonly warn: (message: string) => void;
}

const LISTS: readonly { field: string; direction: Direction; deny: boolean }[] = [
  { field: 'ingress', direction: 'ingress', deny: false },
  { field: 'ingressDeny', direction: 'ingress', deny: true },
  { field: 'egress', direction: 'egress', deny: false },
  { field: 'egressDeny', direction: 'egress', deny: true },
];

function foldRequires(elements: ParsedElement[]): LabelSelectorSpec['requirements'] {
  return elements.flatMap((e) => e.requires.flatMap((r) => r.requirements));
}

function toPeerRules(
  elements: ParsedElement[], direction: Direction, deny: boolean, origin: RuleOrigin,
): PeerRule[] {
  const extra = foldRequires(elements);
  return elements.map((e) => {
    const endpoints: PeerSelector[] = e.endpoints.map((s) =>
      extra.length === 0 ? s : labelSelector([...s.requirements, ...extra]));
    const peers: PeerSelector[] = e.wildcard ? [{ kind: 'wildcard' }] : [...endpoints, ...e.others];
    return { direction, deny, peers, portRules: e.portRules, path: e.path, origin: { ...origin, path: e.path } };
  });
}

/** Parses the rule at `path`; errors go to `errs`. Returns undefined when the rule is invalid. */
export function parseRule(raw: unknown, path: string, ctx: RuleContext, errs: ErrorCollector): PolicyRule | undefined {
  const before = errs.errors.length;
  const obj = errs.object(raw, path);
  if (!obj) {
    errs.add(path, 'must be an object');
    return undefined;
  }
  const hasEp = obj.endpointSelector !== undefined && obj.endpointSelector !== null;
  const hasNode = obj.nodeSelector !== undefined && obj.nodeSelector !== null;
  if (hasEp === hasNode) errs.add(path, 'exactly one of endpointSelector or nodeSelector must be set');
  if (hasNode && ctx.kind !== 'CiliumClusterwideNetworkPolicy') {
    errs.add(join(path, 'nodeSelector'), 'nodeSelector is only allowed in a CiliumClusterwideNetworkPolicy');
  }
  const hostPolicy = hasNode && !hasEp;
  let subject: LabelSelectorSpec | undefined;
  if (hasEp) {
    const sel = parseLabelSelector(obj.endpointSelector, join(path, 'endpointSelector'), errs);
    subject = sel && scopeSubject(sel, ctx, (m) => ctx.warn(`${path}.${m}`));
  } else if (hasNode) {
    const sel = parseLabelSelector(obj.nodeSelector, join(path, 'nodeSelector'), errs);
    subject = sel && labelSelector([...sel.requirements, requirement('reserved', 'host', 'Exists')]);
  }
  const origin: RuleOrigin = {
    kind: ctx.kind, ...(ctx.namespace !== undefined && { namespace: ctx.namespace }), name: ctx.name, ruleIndex: ctx.ruleIndex,
  };
  const peerRules: PeerRule[] = [];
  const has = { ingress: false, egress: false };
  for (const list of LISTS) {
    const listPath = join(path, list.field);
    const items = errs.array(obj[list.field], listPath);
    if (items.length > 0) has[list.direction] = true;
    const pctx = { ...ctx, direction: list.direction, deny: list.deny, hostPolicy };
    const elements = items.map((item, i) => parseElement(item, `${listPath}[${i}]`, pctx, errs));
    peerRules.push(...toPeerRules(elements, list.direction, list.deny, origin));
  }
  const dd = errs.object(obj.enableDefaultDeny, join(path, 'enableDefaultDeny')) ?? {};
  const ddIngress = errs.boolean(dd.ingress, join(path, 'enableDefaultDeny.ingress'));
  const ddEgress = errs.boolean(dd.egress, join(path, 'enableDefaultDeny.egress'));
  errs.string(obj.description, join(path, 'description'));
  errs.array(obj.labels, join(path, 'labels'));
  if (errs.errors.length !== before || !subject) return undefined;
  return {
    origin, subject, hostPolicy, peerRules,
    hasDirection: has,
    defaultDeny: { ingress: has.ingress && (ddIngress ?? true), egress: has.egress && (ddEgress ?? true) },
  };
}

/** The labels upstream attaches to rules derived from a policy object (for display). */
export function derivedFromLabels(origin: RuleOrigin, uid?: string): string[] {
  const ls = [
    label('k8s', 'io.cilium.k8s.policy.derived-from', origin.kind),
    label('k8s', 'io.cilium.k8s.policy.name', origin.name),
    ...(origin.namespace !== undefined ? [label('k8s', 'io.cilium.k8s.policy.namespace', origin.namespace)] : []),
    ...(uid !== undefined ? [label('k8s', 'io.cilium.k8s.policy.uid', uid)] : []),
  ];
  return ls.map((l) => `${l.source}:${l.key}=${l.value}`);
}
