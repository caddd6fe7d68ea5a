/**
 * How the rules meeting on one policy key become its entry, and how denies cover allows of the
 * same identity. Pure functions of their inputs, so incremental and full computation agree.
 *
 *   - any deny contributor: the entry is a deny, derived from the deny rules;
 *   - otherwise an allow, derived from every contributor; if some carry L7 rules the entry
 *     redirects to the proxy with the rules of the first parser (in rule order), `allowAll` when
 *     an L4-only allow also covers the key, and other parsers listed as conflicts;
 *   - an allow whose key lies inside a deny key of the same identity becomes that deny, so the
 *     datapath's longest-prefix lookup can never find the allow first.
 */
import type { Direction, L7Rules, RuleOrigin } from './api/model.ts';
import { type L7Redirect, type PolicyEntry, type PolicyKey, decodeParts, formatOrigin, keyCovers } from './mapstate-types.ts';

/** One rule part producing a key. */
export interface Contributor {
  readonly origin: RuleOrigin;
  /** `formatOrigin(origin)`, the order contributors are considered in. */
  readonly sortKey: string;
  readonly deny: boolean;
  readonly direction: Direction;
  readonly l7: L7Rules | undefined;
}

/** Chooses the proxy port of a redirect. */
export type ProxyPortFor = (parser: L7Rules['parser'], direction: Direction) => number;

function compareContributors(a: Contributor, b: Contributor): number {
  if (a.sortKey !== b.sortKey) return a.sortKey < b.sortKey ? -1 : 1;
  const la = a.l7 ? JSON.stringify(a.l7) : '';
  const lb = b.l7 ? JSON.stringify(b.l7) : '';
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** Origins without duplicates, in a stable order. */
export function uniqueOrigins(origins: readonly RuleOrigin[]): RuleOrigin[] {
  const seen = new Map<string, RuleOrigin>();
  for (const o of origins) seen.set(formatOrigin(o), o);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
}

function uniqueRules(rules: readonly L7Rules[]): L7Rules[] {
  const seen = new Map<string, L7Rules>();
  for (const r of rules) seen.set(JSON.stringify(r), r);
  return [...seen.values()];
}

/** The entry of a key from all its contributors (non-empty). */
export function mergeEntry(contributors: readonly Contributor[], proxyPortFor: ProxyPortFor): PolicyEntry {
  const items = [...contributors].sort(compareContributors);
  const deny = items.filter((c) => c.deny);
  if (deny.length > 0) return { deny: true, proxyPort: 0, derivedFrom: uniqueOrigins(deny.map((c) => c.origin)) };
  const derivedFrom = uniqueOrigins(items.map((c) => c.origin));
  const l7 = items.filter((c) => c.l7 !== undefined);
  if (l7.length === 0) return { deny: false, proxyPort: 0, derivedFrom };
  const parser = l7[0]!.l7!.parser;
  const conflicts = [...new Set(l7.filter((c) => c.l7!.parser !== parser).map((c) => `${c.l7!.parser} rules of ${c.sortKey} ignored`))];
  const redirect: L7Redirect = {
    parser,
    rules: uniqueRules(l7.filter((c) => c.l7!.parser === parser).map((c) => c.l7!)),
    allowAll: items.some((c) => c.l7 === undefined),
    ...(conflicts.length > 0 && { conflicts }),
  };
  return { deny: false, proxyPort: proxyPortFor(parser, items[0]!.direction), redirect, derivedFrom };
}

/**
 * Turns allows covered by a deny into denies, for the entries of one identity and direction
 * keyed by their protocol/port sub-key. Mutates and returns `entries`.
 */
export function applyDenyCover(entries: Map<number, PolicyEntry>): Map<number, PolicyEntry> {
  const denies: { key: PolicyKey; entry: PolicyEntry }[] = [];
  for (const [sub, entry] of entries) if (entry.deny) denies.push({ key: decodeParts(0, sub), entry });
  if (denies.length === 0) return entries;
  for (const [sub, entry] of entries) {
    if (entry.deny) continue;
    const key = decodeParts(0, sub);
    const cover = denies.filter((d) => keyCovers(d.key, key));
    if (cover.length > 0) {
      entries.set(sub, { deny: true, proxyPort: 0, derivedFrom: uniqueOrigins(cover.flatMap((d) => d.entry.derivedFrom)) });
    }
  }
  return entries;
}
