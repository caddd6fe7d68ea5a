/**
 * The per-endpoint policy computation: from the rules selecting an endpoint and the selector
 * cache to exactly the map state the datapath needs, kept up to date incrementally.
 *
 * Model: every (rule element, peer selector) becomes a *template* carrying the key parts
 * (protocol/port blocks, L7) and the deny flag. The entries of one remote identity are a pure
 * function of the templates whose selector currently selects it (deny wins, L7 merged, origins
 * listed), so a change (a rule, an identity) only re-derives the identities it touched, and the
 * result is the same as computing from scratch. Which templates select an identity is read from
 * the selector cache's sorted selections, so nothing per identity is stored here.
 *
 * Flow: `setRules()` swaps rule templates; selector-cache callbacks mark identities dirty;
 * `flush()` re-derives dirty identities and returns the diff applied to `state`.
 */
import type { LabelSet } from '../identity/labels.ts';
import { ReservedIdentity } from '../identity/numeric.ts';
import type { Direction, L7Rules, PeerSelector, PolicyRule, RuleOrigin } from './api/model.ts';
import { applyDenyCover, mergeEntry } from './entry-merge.ts';
import { MapState, entriesEqual, packedRow } from './mapstate.ts';
import { type MapStateDiff, type MapStateRow, type PolicyEntry, formatOrigin, formatRow, identityIndex, subKey } from './mapstate-types.ts';
import { type KeyPart, type NamedPort, type NamedPortResolver, keyParts } from './ports.ts';
import { type SelectionListener, type SelectorCache, sortedIncludes } from './selector-cache.ts';

/** Policy enforcement mode (Helm `policyEnforcementMode`). */
export type EnforcementMode = 'default' | 'always' | 'never';

/** The endpoint whose map state is computed. */
export interface EndpointInfo {
  /** Endpoint id (agent-local). */
  readonly id: number;
  /** Its security identity. */
  readonly identity: number;
  /** Its full label set (used to decide which rules select it). */
  readonly labels: LabelSet;
  /** Its named container ports (resolve named ports on ingress). */
  readonly namedPorts?: readonly NamedPort[];
}

/** Options of the computation. */
export interface PolicyOptions {
  readonly enforcementMode?: EnforcementMode;
  /** Let the local host reach the endpoint (upstream `allow-localhost` auto/always). Default true. */
  readonly allowLocalhost?: boolean;
  /** Proxy port for a redirect; default: a fixed port per parser and direction. */
  readonly proxyPortFor?: (parser: L7Rules['parser'], direction: Direction) => number;
  /** Named ports of peers, for egress rules naming ports. */
  readonly egressNamedPorts?: (name: string) => readonly NamedPort[];
}

/** Default proxy ports, until the proxy subsystem assigns real ones. */
export function defaultProxyPort(parser: L7Rules['parser'], direction: Direction): number {
  const base = { http: 15000, dns: 15053, kafka: 15090, l7proto: 15100 }[parser];
  return base + (direction === 'egress' && parser !== 'dns' ? 1 : 0);
}

interface Template {
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

/** What a template is made from: a selector (or one fixed identity) and its key parts. */
interface TemplateSpec {
  readonly target: PeerSelector | number;
  readonly direction: Direction;
  readonly deny: boolean;
  readonly origin: RuleOrigin;
  readonly parts: readonly KeyPart[];
}

/** One template part producing a key. */
interface Contribution {
  readonly template: Template;
  readonly part: number;
}

const IMPLICIT = '#implicit';
const FIXED = '#identity:';
let nextTemplateId = 1;

function implicitOrigin(name: string): RuleOrigin {
  return { kind: 'Implicit', name, ruleIndex: -1 };
}

/** Identifies a rule: policy kind, namespace, name and rule index. */
export function ruleKeyOf(rule: PolicyRule): string {
  return formatOrigin({ ...rule.origin, path: undefined });
}

/** Whether each direction of an endpoint is enforced, given the rules selecting it. */
export function enforcement(rules: readonly PolicyRule[], mode: EnforcementMode): Record<Direction, boolean> {
  if (mode === 'never') return { ingress: false, egress: false };
  if (mode === 'always') return { ingress: true, egress: true };
  return {
    ingress: rules.some((r) => r.defaultDeny.ingress),
    egress: rules.some((r) => r.defaultDeny.egress),
  };
}

/** The live policy of one endpoint. */
export class EndpointPolicy {
  /** The current map state (do not mutate; use the diffs). */
  readonly state = new MapState();
  readonly #cache: SelectorCache;
  readonly #opts: PolicyOptions;
  readonly #endpoint: EndpointInfo;
  readonly #rules = new Map<string, PolicyRule>();
  readonly #byRule = new Map<string, Template[]>();
  readonly #bySel = new Map<string, Set<Template>>();
  readonly #merged = new Map<string, PolicyEntry>();
  readonly #dirty = new Set<number>();
  readonly #scratch = new Map<number, PolicyEntry>();
  readonly #listener: SelectionListener = (sel, added, removed) => this.#selectionChanged(sel, added, removed);

  constructor(endpoint: EndpointInfo, cache: SelectorCache, options: PolicyOptions = {}) {
    this.#endpoint = endpoint;
    this.#cache = cache;
    this.#opts = options;
  }

  /** The endpoint this policy is for. */
  get endpoint(): EndpointInfo {
    return this.#endpoint;
  }

  /**
   * Replaces the set of rules selecting the endpoint; returns the resulting diff. Rules are
   * compared by object identity per rule key, so only changed rules are re-derived. New
   * templates are registered before old ones are dropped, so shared selectors stay cached.
   * With enforcement mode `never` no rule applies (deny rules included).
   */
  setRules(rules: readonly PolicyRule[]): MapStateDiff {
    const effective = this.#opts.enforcementMode === 'never' ? [] : rules;
    const next = new Map(effective.map((r) => [ruleKeyOf(r), r]));
    const stale: Template[] = [];
    for (const [key, rule] of this.#rules) {
      if (next.get(key) !== rule) stale.push(...this.#takeGroup(key));
    }
    const fresh = [...next].filter(([key, rule]) => this.#rules.get(key) !== rule);
    this.#rules.clear();
    for (const [k, r] of next) this.#rules.set(k, r);
    for (const [key, rule] of fresh) this.#addGroup(key, this.#templatesOf(rule));
    stale.push(...this.#takeGroup(IMPLICIT));
    this.#addGroup(IMPLICIT, this.#implicitTemplates());
    this.#dropTemplates(stale);
    if (stale.length > 0) this.#merged.clear();
    return this.flush();
  }

  /** Re-derives the entries of identities touched since the last flush; returns the diff. */
  flush(): MapStateDiff {
    const diff = { added: [] as MapStateRow[], changed: [] as MapStateRow[], removed: [] as MapStateRow[] };
    if (this.#dirty.size === 0) return diff;
    const dirty = [...this.#dirty].sort((a, b) => a - b);
    this.#dirty.clear();
    const selecting = this.#templatesSelecting(dirty);
    for (const id of dirty) {
      const templates = selecting.get(id) ?? [];
      this.#sync(identityIndex('ingress', id), this.#derive(templates, 'ingress'), diff);
      this.#sync(identityIndex('egress', id), this.#derive(templates, 'egress'), diff);
    }
    return diff;
  }

  /** Makes the state's slot `index` equal `next`, recording the changes. */
  #sync(index: number, next: Map<number, PolicyEntry>, diff: { added: MapStateRow[]; changed: MapStateRow[]; removed: MapStateRow[] }): void {
    const current = this.state.subsOf(index);
    if (current.length > 0) {
      const gone = current.filter((sub) => !next.has(sub));
      for (const sub of gone) diff.removed.push(packedRow(index, sub, this.state.deletePacked(index, sub)!));
    }
    for (const [sub, entry] of next) {
      const old = this.state.getPacked(index, sub);
      if (old !== undefined && entriesEqual(old, entry)) continue;
      (old === undefined ? diff.added : diff.changed).push(packedRow(index, sub, entry));
      this.state.setPacked(index, sub, entry);
    }
  }

  /**
   * The templates selecting each of `ids`. Few ids: look each up in every selector's sorted
   * selection; many ids: walk the selections once.
   */
  #templatesSelecting(ids: readonly number[]): Map<number, Template[]> {
    const out = new Map<number, Template[]>();
    const push = (id: number, templates: Iterable<Template>) => {
      let list = out.get(id);
      if (!list) out.set(id, (list = []));
      for (const t of templates) list.push(t);
    };
    if (ids.length <= 32) {
      for (const [selKey, templates] of this.#bySel) {
        const sel = this.#selectionsOf(selKey);
        for (const id of ids) if (sortedIncludes(sel, id)) push(id, templates);
      }
      return out;
    }
    const wanted = new Set(ids);
    for (const [selKey, templates] of this.#bySel) {
      for (const id of this.#selectionsOf(selKey)) if (wanted.has(id)) push(id, templates);
    }
    return out;
  }

  /**
   * L7 conflicts: keys where rules of different L7 parsers meet (upstream treats this as an
   * invalid policy). The entry keeps the first parser in rule order; callers should report these.
   */
  get l7Conflicts(): readonly string[] {
    const out = new Set<string>();
    for (const r of this.state.rows()) {
      for (const c of r.entry.redirect?.conflicts ?? []) out.add(`${formatRow(r)}: ${c}`);
    }
    return [...out].sort();
  }

  /** Unregisters from the selector cache. */
  dispose(): void {
    for (const key of [...this.#byRule.keys()]) this.#dropTemplates(this.#takeGroup(key));
    this.#dirty.clear();
  }

  #templatesOf(rule: PolicyRule): TemplateSpec[] {
    const resolve: NamedPortResolver = (name, direction) =>
      direction === 'ingress'
        ? (this.#endpoint.namedPorts ?? []).filter((p) => p.name === name)
        : (this.#opts.egressNamedPorts?.(name) ?? []);
    return rule.peerRules.flatMap((pr) => {
      const parts = keyParts(pr.portRules, pr.direction, resolve);
      return pr.peers.map((target) => ({ target, direction: pr.direction, deny: pr.deny, origin: pr.origin, parts }));
    });
  }

  #implicitTemplates(): TemplateSpec[] {
    const enforced = enforcement([...this.#rules.values()], this.#opts.enforcementMode ?? 'default');
    const parts: KeyPart[] = [{ protocol: 0, port: 0, portPrefixLen: 0 }];
    const out: TemplateSpec[] = [];
    for (const direction of ['ingress', 'egress'] as const) {
      if (enforced[direction]) continue;
      const origin = implicitOrigin(`${direction}-enforcement-disabled`);
      out.push({ target: { kind: 'wildcard' }, direction, deny: false, origin, parts });
    }
    if (this.#opts.allowLocalhost ?? true) {
      out.push({ target: ReservedIdentity.host, direction: 'ingress', deny: false, origin: implicitOrigin('allow-localhost'), parts });
    }
    return out;
  }

  #selectionsOf(selKey: string): readonly number[] {
    return selKey.startsWith(FIXED) ? [Number(selKey.slice(FIXED.length))] : this.#cache.selections(selKey);
  }

  #addGroup(ruleKey: string, specs: readonly TemplateSpec[]): void {
    const stored: Template[] = [];
    for (const spec of specs) {
      const reg = typeof spec.target === 'number'
        ? { key: `${FIXED}${spec.target}`, selections: [spec.target] }
        : this.#cache.addSelector(spec.target, this.#listener);
      const t: Template = {
        id: nextTemplateId++, ruleKey, selKey: reg.key, direction: spec.direction, deny: spec.deny, origin: spec.origin,
        parts: spec.parts, sortKey: formatOrigin(spec.origin), single: [],
        partSubs: spec.parts.map((p) => subKey(p.protocol, p.port, p.portPrefixLen)),
      };
      stored.push(t);
      let set = this.#bySel.get(t.selKey);
      if (!set) this.#bySel.set(t.selKey, (set = new Set()));
      set.add(t);
      for (const id of reg.selections) this.#dirty.add(id);
    }
    this.#byRule.set(ruleKey, stored);
  }

  #takeGroup(ruleKey: string): Template[] {
    const templates = this.#byRule.get(ruleKey) ?? [];
    this.#byRule.delete(ruleKey);
    return templates;
  }

  #dropTemplates(templates: readonly Template[]): void {
    for (const t of templates) {
      for (const id of this.#selectionsOf(t.selKey)) this.#dirty.add(id);
      const set = this.#bySel.get(t.selKey);
      set?.delete(t);
      if (set?.size === 0) this.#bySel.delete(t.selKey);
      if (!t.selKey.startsWith(FIXED)) this.#cache.removeSelector(t.selKey, this.#listener);
    }
  }

  #selectionChanged(selKey: string, added: readonly number[], removed: readonly number[]): void {
    if (!this.#bySel.has(selKey)) return;
    for (const id of removed) this.#dirty.add(id);
    for (const id of added) this.#dirty.add(id);
  }

  /**
   * Entries (by sub-key) of one identity and direction, from the templates of that direction
   * selecting it alone. The returned map is reused by the next call.
   */
  #derive(all: readonly Template[], direction: Direction): Map<number, PolicyEntry> {
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
    return mergeEntry(contributors, this.#opts.proxyPortFor ?? defaultProxyPort);
  }
}
