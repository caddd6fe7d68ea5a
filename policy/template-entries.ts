/**
 * Templates and the entries they produce. A template is one (rule element, peer selector) pair of
 * an endpoint's policy: the protocol/port key parts, the deny flag and the origin. The entries of
 * a remote identity are a pure function of the set of templates selecting it, computed here per
 * direction and keyed by protocol/port sub-key (deny wins, L7 merged, origins listed, allows
 * under a deny of the same identity turned into denies).
 */
import type { Direction, RuleOrigin } from './api/model.ts';
import { applyDenyCover, mergeEntry, type ProxyPortFor } from './entry-merge.ts';
import type { PolicyEntry } from './mapstate-types.ts';
import type { KeyPart } from './ports.ts';

/** One (rule element, peer selector) pair of an endpoint's policy. */
export interface Template {
  readonly id: number;
  readonly ruleKey: string;
  readonly selKey: string;
  readonly direction: Direction;
  readonly deny: boolean;
  readonly origin: RuleOrigin;
  readonly parts: readonly KeyPart[];
  /** `subKey` of each part (the protocol/port half of the packed key). */
  readonly partSubs: readonly number[];
  readonly sortKey: string;
  /** Entries for a key only this template's part `i` produces, built on first use. */
  readonly single: (PolicyEntry | undefined)[];
}

/** One template part producing a key. */
interface Contribution {
  readonly template: Template;
  readonly part: number;
}

/**
 * Derives entries from sets of templates, sharing the entry objects of equal contributions
 * (forget them with {@link TemplateEntries.forgetMerged} when templates go away).
 */
export class TemplateEntries {
  readonly #merged = new Map<string, PolicyEntry>();
  readonly #scratch = new Map<number, PolicyEntry>();
  readonly #proxyPortFor: ProxyPortFor;

  constructor(proxyPortFor: ProxyPortFor) {
    this.#proxyPortFor = proxyPortFor;
  }

  /** Drops the shared entries of several contributions. */
  forgetMerged(): void {
    this.#merged.clear();
  }

  /**
   * Entries (by sub-key) of one identity and direction, from the templates selecting it (any
   * direction; the others are skipped). The returned map is reused by the next call.
   */
  derive(all: readonly Template[], direction: Direction): Map<number, PolicyEntry> {
    const out = this.#scratch;
    out.clear();
    const templates = all.length === 1 ? (all[0]!.direction === direction ? all : []) : all.filter((t) => t.direction === direction);
    if (templates.length === 0) return out;
    if (templates.length === 1) {
      const t = templates[0]!;
      const subs = t.partSubs;
      if (subs.length === 1 || new Set(subs).size === subs.length) {
        for (let i = 0; i < subs.length; i++) out.set(subs[i]!, (t.single[i] ??= this.#merge([{ template: t, part: i }])));
        return out;
      }
    }
    const bySub = new Map<number, Contribution[]>();
    for (const t of templates) {
      for (let i = 0; i < t.partSubs.length; i++) {
        const sub = t.partSubs[i]!;
        const list = bySub.get(sub);
        if (list) list.push({ template: t, part: i });
        else bySub.set(sub, [{ template: t, part: i }]);
      }
    }
    for (const [sub, list] of bySub) out.set(sub, this.#entryFor(list));
    return applyDenyCover(out);
  }

  /** The (shared) entry for a set of contributions. */
  #entryFor(list: readonly Contribution[]): PolicyEntry {
    if (list.length === 1) {
      const { template: t, part } = list[0]!;
      return (t.single[part] ??= this.#merge(list));
    }
    const sig = list.map((c) => `${c.template.id}.${c.part}`).sort().join(',');
    let e = this.#merged.get(sig);
    if (!e) this.#merged.set(sig, (e = this.#merge(list)));
    return e;
  }

  #merge(list: readonly Contribution[]): PolicyEntry {
    const contributors = list.map(({ template: t, part }) => ({
      origin: t.origin, sortKey: t.sortKey, deny: t.deny, direction: t.direction, l7: t.parts[part]!.l7,
    }));
    return mergeEntry(contributors, this.#proxyPortFor);
  }
}
