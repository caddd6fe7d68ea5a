/**
 * toFQDNs selectors. They select node-local identities whose `fqdn:<name>` labels say which DNS
 * names resolved to the identity's IP; such identities appear once the DNS proxy has seen an
 * answer, and the selector cache picks them up like any other identity.
 */
import { cidrIdentityLabels, parsePrefix } from '../identity/cidr.ts';
import { type LabelSet, label } from '../identity/labels.ts';
import type { FqdnSelectorSpec, PolicyRule } from './api/model.ts';

/** Lower-cases a DNS name and adds the trailing dot. */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** DNS name characters a `*` stands for (inside one label). */
const DNS_CHARS = '[-a-z0-9_]';
/** Patterns that match every name: `*`, `**`, `*.`, `**.`, ... */
const MATCH_ALL = /^\*+\.?$/;
/** A leading `**.` (two or more stars): one or more whole labels. */
const SUBDOMAIN_WILDCARD = /^\*{2,}\./;

/**
 * A predicate over normalized DNS names (see {@link normalizeDnsName}) for a matchName /
 * matchPattern, with upstream's semantics: a pattern of only stars matches every name (the root
 * `.` too); a leading `**.` matches one or more whole labels; any other run of `*` matches zero
 * or more DNS characters inside one label.
 */
export function dnsNameMatcher(spec: { matchName?: string; matchPattern?: string }): (name: string) => boolean {
  if (spec.matchName !== undefined) {
    const want = normalizeDnsName(spec.matchName);
    return (name) => name === want;
  }
  const raw = (spec.matchPattern ?? '').trim().toLowerCase();
  if (MATCH_ALL.test(raw)) return () => true;
  const pattern = normalizeDnsName(raw);
  const lead = SUBDOMAIN_WILDCARD.exec(pattern);
  const rest = lead ? pattern.slice(lead[0].length) : pattern;
  const body = rest.split(/\*+/).map((part) => part.replace(/[.\\+?^${}()|[\]-]/g, '\\$&')).join(`${DNS_CHARS}*`);
  const re = new RegExp(`^${lead ? `(${DNS_CHARS}+\\.)+` : ''}${body}$`);
  return (name) => re.test(name);
}

/** True when an identity's labels contain an `fqdn:` name the selector matches. */
export function fqdnSelects(spec: FqdnSelectorSpec, labels: LabelSet, matcher = dnsNameMatcher(spec)): boolean {
  return labels.ofSource('fqdn').some((l) => matcher(l.key));
}

/**
 * Labels of the node-local identity for an IP learned from DNS answers for `names`:
 * `cidr:<ip>/32|128`, `reserved:world` and one `fqdn:<name>` per name.
 */
export function fqdnIdentityLabels(ip: string, names: readonly string[], dualStack = false): LabelSet {
  const prefix = parsePrefix(ip);
  if (!prefix) throw new Error(`fqdnIdentityLabels: invalid IP ${JSON.stringify(ip)}`);
  return cidrIdentityLabels(prefix, dualStack).with(names.map((n) => label('fqdn', normalizeDnsName(n))));
}

/** The toFQDNs selectors of a policy's rules, once each. */
export function fqdnSelectorsOf(rules: readonly PolicyRule[]): FqdnSelectorSpec[] {
  const out = new Map<string, FqdnSelectorSpec>();
  for (const rule of rules) {
    for (const pr of rule.peerRules) {
      for (const peer of pr.peers) if (peer.kind === 'fqdn') out.set(`${peer.matchName ?? ''}|${peer.matchPattern ?? ''}`, peer);
    }
  }
  return [...out.values()];
}

/**
 * Which names select each address: for every (name, address) pair DNS answers gave, the name
 * counts for the address when one of `selectors` matches it.
 */
export function fqdnNamesByIp(
  pairs: Iterable<{ readonly name: string; readonly ip: string }>, selectors: readonly FqdnSelectorSpec[],
): Map<string, string[]> {
  const matchers = selectors.map((s) => dnsNameMatcher(s));
  const out = new Map<string, string[]>();
  if (matchers.length === 0) return out;
  for (const { name, ip } of pairs) {
    const n = normalizeDnsName(name);
    if (!matchers.some((m) => m(n))) continue;
    const list = out.get(ip);
    if (list) list.push(n);
    else out.set(ip, [n]);
  }
  return out;
}
