/**
 * Matching peer selectors against identity label sets, and their canonical keys.
 *
 *   - label selectors: every requirement holds (`any` source matches a label of any source);
 *   - CIDR selectors: the identity carries a `cidr:` prefix inside the CIDR and outside every
 *     except; a /0 also selects the bare world identities of its family;
 *   - CIDR group refs: the identity carries the group's `cidrgroup:` label (and is not excepted);
 *   - FQDN selectors: see fqdn.ts; the wildcard selects identity 0 only (handled by the cache).
 */
import { CIDR_GROUP_LABEL_PREFIX, type Prefix, parseCidrLabelKey, parsePrefix, prefixContains } from '../identity/cidr.ts';
import type { LabelSet } from '../identity/labels.ts';
import type { CidrGroupSelectorSpec, CidrSelectorSpec, PeerSelector, Requirement } from './api/model.ts';
import { dnsNameMatcher, fqdnSelects } from './fqdn.ts';

/** Canonical text of a selector; equal selectors have equal keys. */
export function selectorKey(sel: PeerSelector): string {
  switch (sel.kind) {
    case 'labels':
      return `labels:${sel.requirements.map((r) => `${r.source}:${r.key} ${r.operator} ${r.values.join(',')}`).join('&')}`;
    case 'cidr':
      return `cidr:${sel.cidr}${sel.except.length > 0 ? ` except ${[...sel.except].sort().join(',')}` : ''}${sel.endpointAddresses ? ' +endpoints' : ''}`;
    case 'cidrgroup':
      return `cidrgroup:${sel.group}${sel.except.length > 0 ? ` except ${[...sel.except].sort().join(',')}` : ''}`;
    case 'fqdn':
      return sel.matchName !== undefined ? `fqdn:name=${sel.matchName.toLowerCase()}` : `fqdn:pattern=${sel.matchPattern!.toLowerCase()}`;
    case 'wildcard':
      return 'wildcard';
  }
}

/** A requirement compiled to a predicate; the `source:key` text is built once. */
function compileRequirement(r: Requirement): (labels: LabelSet) => boolean {
  const sourceKey = `${r.source}:${r.key}`;
  const valueIn = r.source === 'any'
    ? (labels: LabelSet) => labels.hasValueIn('any', r.key, r.values)
    : (labels: LabelSet) => {
      const l = labels.getSourceKey(sourceKey);
      return l !== undefined && r.values.includes(l.value);
    };
  const exists = r.source === 'any'
    ? (labels: LabelSet) => labels.getKey(r.key) !== undefined
    : (labels: LabelSet) => labels.getSourceKey(sourceKey) !== undefined;
  switch (r.operator) {
    case 'Exists':
      return exists;
    case 'DoesNotExist':
      return (labels) => !exists(labels);
    case 'In':
      return valueIn;
    case 'NotIn':
      return (labels) => !valueIn(labels);
  }
}

const prefixCache = new Map<string, Prefix | undefined>();
function cachedPrefix(key: string, parse: (k: string) => Prefix | undefined): Prefix | undefined {
  if (!prefixCache.has(key)) {
    if (prefixCache.size > 100_000) prefixCache.clear();
    prefixCache.set(key, parse(key));
  }
  return prefixCache.get(key);
}

function identityPrefixes(labels: LabelSet): Prefix[] {
  return labels.ofSource('cidr').map((l) => cachedPrefix(`l:${l.key}`, () => parseCidrLabelKey(l.key))).filter((p) => p !== undefined);
}

function excepted(prefixes: readonly Prefix[], except: readonly string[]): boolean {
  return except.some((e) => {
    const ep = cachedPrefix(e, parsePrefix);
    return ep !== undefined && prefixes.some((p) => prefixContains(ep, p));
  });
}

function cidrSelects(sel: CidrSelectorSpec, labels: LabelSet): boolean {
  const outer = cachedPrefix(sel.cidr, parsePrefix);
  if (!outer) return false;
  const prefixes = identityPrefixes(labels);
  if (prefixes.length === 0) {
    if (outer.length !== 0) return false;
    const world = outer.family === 4 ? 'world-ipv4' : 'world-ipv6';
    return labels.size > 0 && labels.labels.every((l) => l.source === 'reserved' && (l.key === 'world' || l.key === world));
  }
  return prefixes.some((p) => prefixContains(outer, p)) && !excepted(prefixes, sel.except);
}

/**
 * Whether a CIDR selector selects an endpoint identity by its endpoints' addresses: there is at
 * least one, and every one is inside the CIDR and outside every except.
 */
export function cidrSelectsAddresses(sel: CidrSelectorSpec, addresses: readonly Prefix[] | undefined): boolean {
  const outer = cachedPrefix(sel.cidr, parsePrefix);
  if (!outer || !addresses || addresses.length === 0) return false;
  return addresses.every((a) => prefixContains(outer, a)) && !excepted(addresses, sel.except);
}

function cidrGroupSelects(sel: CidrGroupSelectorSpec, labels: LabelSet): boolean {
  if (!labels.has('cidrgroup', CIDR_GROUP_LABEL_PREFIX + sel.group)) return false;
  return !excepted(identityPrefixes(labels), sel.except);
}

/** A compiled predicate for one selector (compile once, match many identities). */
export function compileSelector(sel: PeerSelector): (labels: LabelSet) => boolean {
  switch (sel.kind) {
    case 'labels': {
      const reqs = sel.requirements.map(compileRequirement);
      return (labels) => {
        for (const holds of reqs) if (!holds(labels)) return false;
        return true;
      };
    }
    case 'cidr':
      return (labels) => cidrSelects(sel, labels);
    case 'cidrgroup':
      return (labels) => cidrGroupSelects(sel, labels);
    case 'fqdn': {
      const m = dnsNameMatcher(sel);
      return (labels) => fqdnSelects(sel, labels, m);
    }
    case 'wildcard':
      return () => false;
  }
}
