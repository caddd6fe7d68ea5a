/**
 * Node-local identities for the CIDR prefixes policies name, as upstream gives them: every prefix of
 * a `toCIDR`/`fromCIDR`, `toCIDRSet`/`fromCIDRSet` (its `except` prefixes too), NetworkPolicy
 * `ipBlock`, and every prefix of a CiliumCIDRGroup a policy references (`cidrGroupRef`, or a
 * `cidrGroupSelector` matching the group's labels) gets an identity labelled `cidr:<prefix>` and
 * `reserved:world`, plus, for each CIDR group with a prefix containing it, the group's
 * `cidrgroup:io.cilium.policy.cidrgroupname/<name>` label and its own labels under `cidrgroup:`.
 *
 * The ipcache maps each prefix to its identity (longest prefix wins), so a rule on a /16 selects the
 * /24 another rule carves out of it, and an `except` prefix resolves to an identity the outer rule
 * does not select. Prefixes no policy names any more are released. `/0` gets no identity: it is
 * the reserved world identity itself. Only IPv4 prefixes are placed (the datapath is IPv4-only).
 *
 * Addresses DNS answers gave names that a `toFQDNs` selector matches (`setFqdnNames`) get the
 * identity of their /32 with one `fqdn:<name>` label per such name, so the selector cache hands
 * them to those selectors, and CIDR rules on the same address keep selecting it.
 *
 * This class only computes: `setUse`/`setGroup` return which identities appeared and which went,
 * and the caller orders the effects (see policy-feed.ts).
 */
import { CIDR_GROUP_LABEL_PREFIX, cidrIdentityLabels, formatPrefix, parsePrefix, prefixContains, type Prefix } from '../identity/cidr.ts';
import { label, LabelSet } from '../identity/labels.ts';
import { LocalIdentityAllocator } from '../identity/local-allocator.ts';
import type { LabelSelectorSpec, PolicyRule } from '../policy/api/model.ts';
import { normalizeDnsName } from '../policy/fqdn.ts';
import { compileSelector } from '../policy/selector-match.ts';

/** The CIDR peers one policy names. */
export interface CidrUse {
  /** Canonical prefixes (CIDRs and their excepts). */
  readonly prefixes: readonly string[];
  /** CIDR groups named by `cidrGroupRef`. */
  readonly groups: readonly string[];
  /** `cidrGroupSelector`s (requirements over `cidrgroup:` labels). */
  readonly groupSelectors: readonly LabelSelectorSpec[];
}

/** A CiliumCIDRGroup as the agent needs it. */
export interface CidrGroup {
  readonly labels: Readonly<Record<string, string>>;
  readonly cidrs: readonly string[];
}

/** One prefix's identity. */
export interface PrefixIdentity {
  readonly prefix: string;
  readonly id: number;
  readonly labels: LabelSet;
}

/** What a change did: identities that appeared (or were relabelled to a new number) and that went. */
export interface CidrIdentityChange {
  readonly added: readonly PrefixIdentity[];
  readonly removed: readonly PrefixIdentity[];
}

function isGroupSelector(sel: LabelSelectorSpec): boolean {
  return sel.requirements.length > 0 && sel.requirements.every((r) => r.source === 'cidrgroup');
}

/** The CIDR peers named by a policy's rules. */
export function cidrUseOf(rules: readonly PolicyRule[]): CidrUse {
  const prefixes = new Set<string>();
  const groups = new Set<string>();
  const groupSelectors = new Map<string, LabelSelectorSpec>();
  for (const rule of rules) {
    for (const pr of rule.peerRules) {
      for (const peer of pr.peers) {
        if (peer.kind === 'cidr') prefixes.add(peer.cidr);
        if (peer.kind === 'cidrgroup') groups.add(peer.group);
        if (peer.kind === 'cidr' || peer.kind === 'cidrgroup') for (const e of peer.except) prefixes.add(e);
        if (peer.kind === 'labels' && isGroupSelector(peer)) groupSelectors.set(JSON.stringify(peer), peer);
      }
    }
  }
  return { prefixes: [...prefixes], groups: [...groups], groupSelectors: [...groupSelectors.values()] };
}

/** The labels a group's selector is matched against: its own labels, under `cidrgroup:`. */
function groupLabelSet(name: string, group: CidrGroup): LabelSet {
  return new LabelSet([
    label('cidrgroup', CIDR_GROUP_LABEL_PREFIX + name),
    ...Object.entries(group.labels).map(([k, v]) => label('cidrgroup', k, v)),
  ]);
}

interface ParsedGroup {
  readonly group: CidrGroup;
  readonly labels: LabelSet;
  readonly prefixes: readonly Prefix[];
}

/** The node's CIDR identities: which prefixes are named, their labels and numbers. */
export class CidrIdentities {
  readonly #allocator: LocalIdentityAllocator;
  readonly #uses = new Map<string, CidrUse>();
  readonly #groups = new Map<string, ParsedGroup>();
  /** /32 prefix → the DNS names toFQDNs selectors select it by. */
  #fqdnNames = new Map<string, readonly string[]>();
  readonly #current = new Map<string, PrefixIdentity>();
  /** Numbers an earlier agent gave prefixes (from the pinned ipcache), used when free. */
  readonly #previous = new Map<string, number>();

  constructor(allocator = new LocalIdentityAllocator()) {
    this.#allocator = allocator;
  }

  /** Remembers the numbers the kernel's ipcache already holds for prefixes, to keep them. */
  restore(rows: Iterable<readonly [string, number]>): void {
    for (const [prefix, id] of rows) this.#previous.set(prefix, id);
  }

  /** Sets (or with undefined, drops) what policy `owner` names. */
  setUse(owner: string, use: CidrUse | undefined): CidrIdentityChange {
    if (use && (use.prefixes.length > 0 || use.groups.length > 0 || use.groupSelectors.length > 0)) this.#uses.set(owner, use);
    else if (!this.#uses.delete(owner)) return { added: [], removed: [] };
    return this.#converge();
  }

  /** Sets (or with undefined, drops) a CiliumCIDRGroup. */
  setGroup(name: string, group: CidrGroup | undefined): CidrIdentityChange {
    if (group) {
      const prefixes = group.cidrs.map(parsePrefix).filter((p) => p !== undefined);
      this.#groups.set(name, { group, labels: groupLabelSet(name, group), prefixes });
    } else if (!this.#groups.delete(name)) {
      return { added: [], removed: [] };
    }
    return this.#converge();
  }

  /**
   * Sets which names each address is selected by (address → names; absent or empty: none), as
   * the FQDN cache and the toFQDNs selectors in use say now.
   */
  setFqdnNames(names: ReadonlyMap<string, readonly string[]>): CidrIdentityChange {
    const next = new Map<string, readonly string[]>();
    for (const [ip, list] of names) {
      const p = parsePrefix(ip);
      if (p && p.family === 4 && list.length > 0) next.set(formatPrefix({ ...p, length: 32 }), [...new Set(list.map(normalizeDnsName))].sort());
    }
    this.#fqdnNames = next;
    return this.#converge();
  }

  /** The identity of a prefix, if one is allocated. */
  identityOf(prefix: string): PrefixIdentity | undefined {
    const p = parsePrefix(prefix);
    return p ? this.#current.get(formatPrefix(p)) : undefined;
  }

  /** Every prefix with its identity. */
  all(): PrefixIdentity[] {
    return [...this.#current.values()];
  }

  /** The groups some policy references, by name or by a selector. */
  #usedGroups(): Set<string> {
    const used = new Set<string>();
    const selectors = [...this.#uses.values()].flatMap((u) => u.groupSelectors).map(compileSelector);
    for (const u of this.#uses.values()) for (const g of u.groups) used.add(g);
    for (const [name, g] of this.#groups) if (selectors.some((m) => m(g.labels))) used.add(name);
    return used;
  }

  #desired(): Map<string, Prefix> {
    const out = new Map<string, Prefix>();
    const add = (p: Prefix | undefined) => {
      if (p && p.family === 4 && p.length > 0) out.set(formatPrefix(p), p);
    };
    for (const u of this.#uses.values()) for (const text of u.prefixes) add(parsePrefix(text));
    for (const name of this.#usedGroups()) for (const p of this.#groups.get(name)?.prefixes ?? []) add(p);
    for (const prefix of this.#fqdnNames.keys()) add(parsePrefix(prefix));
    return out;
  }

  #labelsOf(p: Prefix): LabelSet {
    const extra = [...this.#groups].filter(([, g]) => g.prefixes.some((gp) => prefixContains(gp, p))).flatMap(([, g]) => g.labels.labels);
    for (const name of this.#fqdnNames.get(formatPrefix(p)) ?? []) extra.push(label('fqdn', name));
    return extra.length === 0 ? cidrIdentityLabels(p) : cidrIdentityLabels(p).with(extra);
  }

  #converge(): CidrIdentityChange {
    const added: PrefixIdentity[] = [];
    const removed: PrefixIdentity[] = [];
    const desired = this.#desired();
    for (const [prefix, p] of desired) {
      const labels = this.#labelsOf(p);
      const cur = this.#current.get(prefix);
      if (cur?.labels.equals(labels)) continue;
      const { id } = this.#allocator.allocate(labels, cur ? undefined : this.#previous.get(prefix));
      const next = { prefix, id, labels };
      this.#current.set(prefix, next);
      added.push(next);
      if (cur) removed.push(cur);
    }
    for (const [prefix, cur] of this.#current) {
      if (desired.has(prefix)) continue;
      this.#current.delete(prefix);
      removed.push(cur);
    }
    // Released only after the new numbers were taken, so no number is both added and removed.
    for (const r of removed) this.#allocator.release(r.id);
    return { added, removed };
  }
}
