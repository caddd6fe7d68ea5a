/**
 * Which DNS queries an endpoint may send to a server: the decision the DNS proxy applies, from
 * the policy verdict of the (endpoint → server, protocol, port) packet. A redirect entry's
 * `rules.dns` allow the names they match (matchName, matchPattern as policy/fqdn.ts reads them);
 * a redirect that an L4-only rule also covers (`allowAll`), or a plain allow (the policy changed
 * since the packet was redirected), allows every name; a deny or default deny allows none.
 */
import type { DnsRule, RuleOrigin } from '../../policy/api/model.ts';
import { dnsNameMatcher, normalizeDnsName } from '../../policy/fqdn.ts';
import type { Verdict } from '../../policy/verdict.ts';

/** The decision for one query. */
export interface DnsDecision {
  readonly allowed: boolean;
  /** The rules that decided (the policy entry's origins; empty for default deny). */
  readonly origins: readonly RuleOrigin[];
}

/** Compiled matchers, per rule object (rules are shared by the entries of one computation). */
const compiled = new WeakMap<DnsRule, (name: string) => boolean>();

function matcherOf(rule: DnsRule): (name: string) => boolean {
  let m = compiled.get(rule);
  if (!m) compiled.set(rule, (m = dnsNameMatcher(rule)));
  return m;
}

/** True when one of `rules` matches the query name (any case, with or without the final dot). */
export function dnsRulesMatch(rules: readonly DnsRule[], qname: string): boolean {
  const name = normalizeDnsName(qname);
  return rules.some((r) => matcherOf(r)(name));
}

/** Decides a query for `qname` given the policy verdict of its packet. */
export function decideDnsQuery(v: Verdict, qname: string): DnsDecision {
  const origins = v.derivedFrom;
  if (v.verdict === 'allowed') return { allowed: true, origins };
  if (v.verdict !== 'redirect') return { allowed: false, origins };
  const redirect = v.match?.entry.redirect;
  if (!redirect || redirect.allowAll) return { allowed: true, origins };
  const rules = redirect.rules.flatMap((r) => (r.parser === 'dns' ? r.dns : []));
  // An entry of another parser on the DNS port (an HTTP rule on 53) has no DNS rule: nothing passes.
  return { allowed: dnsRulesMatch(rules, qname), origins };
}
