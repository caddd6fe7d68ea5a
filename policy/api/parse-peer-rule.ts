/**
 * Parsing one element of `ingress`, `ingressDeny`, `egress` or `egressDeny`: its peers (endpoints,
 * requires, CIDR, CIDRSet, entities, FQDNs, ...), ports and ICMPs, with upstream's rule that one
 * element holds only one kind of L3 peer and never both `toPorts` and `icmps`.
 */
import { formatPrefix, parsePrefix, prefixContains } from '../../identity/cidr.ts';
import { entitySelectors, isEntity } from './entities.ts';
import { ErrorCollector, join } from './errors.ts';
import type { Direction, LabelSelectorSpec, PeerSelector, PortRuleSpec } from './model.ts';
import { type ScopeContext, scopePeer } from './namespace-scope.ts';
import { parseDnsMatcher } from './parse-l7.ts';
import { parseIcmpRule, parsePortRule } from './parse-ports.ts';
import { parseLabelSelector } from './parse-selector.ts';

/** Options for parsing peers. */
export interface PeerContext extends ScopeContext {
  readonly direction: Direction;
  readonly deny: boolean;
  readonly hostPolicy: boolean;
  readonly clusterName: string;
  readonly warn: (message: string) => void;
}

/** A parsed element before `fromRequires` of the whole rule is folded in. */
export interface ParsedElement {
  readonly path: string;
  /** Endpoint selectors (requirements are ANDed onto these later). */
  readonly endpoints: LabelSelectorSpec[];
  /** Other peers (CIDR, entities, FQDN...). */
  readonly others: PeerSelector[];
  /** True when the element names no L3 peer but has ports: it applies to all peers (L4-only). */
  readonly wildcard: boolean;
  /** Requirement selectors from from/toRequires. */
  readonly requires: LabelSelectorSpec[];
  readonly portRules: PortRuleSpec[];
}

function fieldNames(direction: Direction) {
  const p = direction === 'ingress' ? 'from' : 'to';
  return {
    endpoints: `${p}Endpoints`, requires: `${p}Requires`, cidr: `${p}CIDR`, cidrSet: `${p}CIDRSet`,
    entities: `${p}Entities`, groups: `${p}Groups`, nodes: `${p}Nodes`,
  };
}

function parseCidr(text: string, path: string, errs: ErrorCollector): string | undefined {
  const p = parsePrefix(text);
  if (!p) {
    errs.add(path, `invalid CIDR ${JSON.stringify(text)}`);
    return undefined;
  }
  return formatPrefix(p);
}

function parseExcept(cidr: string | undefined, raw: unknown, path: string, errs: ErrorCollector): string[] {
  const outer = cidr === undefined ? undefined : parsePrefix(cidr);
  return errs.strings(raw, path).flatMap((text, i) => {
    const e = parseCidr(text, `${path}[${i}]`, errs);
    if (e === undefined) return [];
    if (outer && !prefixContains(outer, parsePrefix(e)!)) {
      errs.add(`${path}[${i}]`, `except ${e} is not contained in ${cidr}`);
      return [];
    }
    return [e];
  });
}

function parseCidrSetItem(raw: unknown, path: string, errs: ErrorCollector): PeerSelector[] {
  const obj = errs.object(raw, path);
  if (!obj) {
    errs.add(path, 'must be an object');
    return [];
  }
  const cidrText = errs.string(obj.cidr, join(path, 'cidr'));
  const group = errs.string(obj.cidrGroupRef, join(path, 'cidrGroupRef'));
  const hasSelector = obj.cidrGroupSelector !== undefined && obj.cidrGroupSelector !== null;
  const set = [cidrText !== undefined, group !== undefined, hasSelector].filter(Boolean).length;
  if (set !== 1) {
    errs.add(path, 'exactly one of cidr, cidrGroupRef or cidrGroupSelector must be set');
    return [];
  }
  if (cidrText !== undefined) {
    const cidr = parseCidr(cidrText, join(path, 'cidr'), errs);
    const except = parseExcept(cidr, obj.except, join(path, 'except'), errs);
    return cidr === undefined ? [] : [{ kind: 'cidr', cidr, except }];
  }
  const except = parseExcept(undefined, obj.except, join(path, 'except'), errs);
  if (group !== undefined) return [{ kind: 'cidrgroup', group, except }];
  const sel = parseLabelSelector(obj.cidrGroupSelector, join(path, 'cidrGroupSelector'), errs, 'cidrgroup');
  return sel ? [sel] : [];
}

/** Parses one rule element at `path`. */
export function parseElement(raw: unknown, path: string, ctx: PeerContext, errs: ErrorCollector): ParsedElement {
  const obj = errs.object(raw, path) ?? {};
  const f = fieldNames(ctx.direction);
  const present = (k: string) => Array.isArray(obj[k]) && (obj[k] as unknown[]).length > 0;
  const l3Fields = [f.endpoints, f.cidr, f.cidrSet, f.entities, f.groups, f.nodes];
  if (ctx.direction === 'egress') l3Fields.push('toServices', 'toFQDNs');
  const l3 = l3Fields.filter(present);
  if (l3.length > 1) errs.add(path, `combining ${l3.join(' and ')} is not supported yet`);
  if (present('toPorts') && present('icmps')) errs.add(path, 'combining toPorts and icmps is not supported');

  const endpoints = errs.array(obj[f.endpoints], join(path, f.endpoints))
    .map((s, i) => parseLabelSelector(s, `${join(path, f.endpoints)}[${i}]`, errs))
    .filter((s) => s !== undefined).map((s) => scopePeer(s, ctx));
  const requires = errs.array(obj[f.requires], join(path, f.requires))
    .map((s, i) => parseLabelSelector(s, `${join(path, f.requires)}[${i}]`, errs))
    .filter((s) => s !== undefined);
  const others: PeerSelector[] = [];
  errs.strings(obj[f.cidr], join(path, f.cidr)).forEach((c, i) => {
    const cidr = parseCidr(c, `${join(path, f.cidr)}[${i}]`, errs);
    if (cidr !== undefined) others.push({ kind: 'cidr', cidr, except: [] });
  });
  errs.array(obj[f.cidrSet], join(path, f.cidrSet)).forEach((c, i) => {
    others.push(...parseCidrSetItem(c, `${join(path, f.cidrSet)}[${i}]`, errs));
  });
  errs.strings(obj[f.entities], join(path, f.entities)).forEach((e, i) => {
    if (!isEntity(e)) errs.add(`${join(path, f.entities)}[${i}]`, `unknown entity ${JSON.stringify(e)}`);
    else others.push(...entitySelectors(e, ctx.clusterName));
  });
  errs.array(obj[f.nodes], join(path, f.nodes)).forEach((s, i) => {
    const sel = parseLabelSelector(s, `${join(path, f.nodes)}[${i}]`, errs);
    if (sel) others.push(sel);
  });
  if (present(f.groups)) ctx.warn(`${join(path, f.groups)}: cloud groups are realised by derivative policies; ignored here`);
  if (ctx.direction === 'egress') parseEgressOnly(obj, path, ctx, errs, others);

  const portRules: PortRuleSpec[] = [];
  errs.array(obj.toPorts, join(path, 'toPorts')).forEach((p, i) => {
    const r = parsePortRule(p, `${join(path, 'toPorts')}[${i}]`, ctx, errs);
    if (r) portRules.push(r);
  });
  errs.array(obj.icmps, join(path, 'icmps')).forEach((p, i) => {
    const r = parseIcmpRule(p, `${join(path, 'icmps')}[${i}]`, errs);
    if (r) portRules.push(r);
  });
  const auth = errs.object(obj.authentication, join(path, 'authentication'));
  const mode = auth && errs.string(auth.mode, join(path, 'authentication.mode'));
  if (mode !== undefined && !['disabled', 'required', 'test-always-fail'].includes(mode)) {
    errs.add(join(path, 'authentication.mode'), `must be disabled, required or test-always-fail, not ${JSON.stringify(mode)}`);
  }
  return { path, endpoints, requires, others, portRules, wildcard: l3.length === 0 && !present(f.requires) && portRules.length > 0 };
}

function parseEgressOnly(
  obj: Record<string, unknown>, path: string, ctx: PeerContext, errs: ErrorCollector, others: PeerSelector[],
): void {
  const fqdns = errs.array(obj.toFQDNs, join(path, 'toFQDNs'));
  if (ctx.deny && fqdns.length > 0) {
    ctx.warn(`${join(path, 'toFQDNs')}: deny rules have no toFQDNs; ignored`);
  } else {
    fqdns.forEach((raw, i) => {
      const m = parseDnsMatcher(raw, `${join(path, 'toFQDNs')}[${i}]`, errs);
      if (m) others.push({ kind: 'fqdn', ...m });
    });
  }
  if (errs.array(obj.toServices, join(path, 'toServices')).length > 0) {
    ctx.warn(`${join(path, 'toServices')}: service peers are not resolved yet; the element grants nothing`);
  }
}
