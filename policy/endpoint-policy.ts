/**
 * The per-endpoint policy computation: from the rules selecting an endpoint and the selector
 * cache to exactly the map state the datapath needs, kept up to date incrementally.
 *
 * Model: every (rule element, peer selector) becomes a *template* (template-entries.ts). The
 * entries of one remote identity are a pure function of the templates whose selector currently
 * selects it, so a change (a rule, an identity) only re-derives the identities it touched, and the
 * result is the same as computing from scratch. Templates sharing a selector share a *slot*, one
 * bit of a signature; identities with equal signatures get the same entries, so those are derived
 * once per signature and stored as one shared entry group (entry-group.ts) for all of them.
 * Which slots select an identity is read from the selector cache's sorted selections, so nothing
 * per identity is stored here.
 *
 * Flow: `setRules()` swaps rule templates; selector-cache callbacks record the identities they
 * touched (as the cache's sorted lists); `flush()` re-derives those identities and returns the
 * diff applied to `state`.
 */
import type { LabelSet } from '../identity/labels.ts';
import { ReservedIdentity } from '../identity/numeric.ts';
import type { Direction, L7Rules, PeerRule, PeerSelector, PolicyRule, RuleOrigin } from './api/model.ts';
import { type EntryGroup, groupOf } from './entry-group.ts';
import { MapState } from './mapstate.ts';
import { type MapStateDiff, type MapStateRow, formatOrigin, formatRow, identityIndex, subKey } from './mapstate-types.ts';
import { type KeyPart, type NamedPort, type NamedPortResolver, keyParts } from './ports.ts';
import type { SelectionListener, SelectorCache } from './selector-cache.ts';
import { sortedUnion } from './sorted-ids.ts';
import { type Template, TemplateEntries } from './template-entries.ts';
import { type Signature, type Signatures, TemplateSlots } from './template-slots.ts';

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
  /**
   * Named ports of peers, for egress rules naming ports: the ports called `name` of the endpoints
   * `peer` selects (upstream resolves them from the destination endpoints' container ports). When
   * the answer changes, call `PolicyEngine.refreshNamedPorts`.
   */
  readonly egressNamedPorts?: (name: string, peer: PeerSelector) => readonly NamedPort[];
  /**
   * NetworkPolicy `ipBlock`s also select endpoints by address (`policy-cidr-match-mode` pods, as
   * Kubernetes' own NetworkPolicy tests expect); feed the addresses with
   * `PolicyEngine.updateIdentityAddresses`.
   */
  readonly cidrMatchesEndpoints?: boolean;
}

/** Default proxy ports, until the proxy subsystem assigns real ones. */
export function defaultProxyPort(parser: L7Rules['parser'], direction: Direction): number {
  const base = { http: 15000, dns: 15053, kafka: 15090, l7proto: 15100 }[parser];
  return base + (direction === 'egress' && parser !== 'dns' ? 1 : 0);
}

/** The entries of every identity with one signature (shared groups; never mutate them). */
interface SignatureEntries {
  readonly ingress: EntryGroup | undefined;
  readonly egress: EntryGroup | undefined;
}

/** Signatures remembered before the memo is cleared (bounds memory under identity churn). */
const MAX_SIGNATURES = 65536;

/** What a template is made from: a selector (or one fixed identity) and its key parts. */
interface TemplateSpec {
  readonly target: PeerSelector | number;
  readonly direction: Direction;
  readonly deny: boolean;
  readonly origin: RuleOrigin;
  readonly parts: readonly KeyPart[];
}

const IMPLICIT = '#implicit';
const FIXED = '#identity:';
let nextTemplateId = 1;

function implicitOrigin(name: string): RuleOrigin {
  return { kind: 'Implicit', name, ruleIndex: -1 };
}

/** The port names the given rule elements use. */
export function namedPortsOf(peerRules: readonly PeerRule[]): Set<string> {
  const out = new Set<string>();
  for (const pr of peerRules) for (const r of pr.portRules) for (const p of r.ports) if (p.name !== undefined) out.add(p.name);
  return out;
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
  readonly #entries: TemplateEntries;
  readonly #rules = new Map<string, PolicyRule>();
  readonly #byRule = new Map<string, Template[]>();
  readonly #slots = new TemplateSlots();
  /** Entries per identity signature, valid until templates change. */
  readonly #bySignature = new Map<Signature, SignatureEntries>();
  /** Sorted identity lists whose identities must be re-derived at the next flush. */
  #dirty: (readonly number[])[] = [];
  readonly #listener: SelectionListener = (sel, added, removed) => this.#selectionChanged(sel, added, removed);

  constructor(endpoint: EndpointInfo, cache: SelectorCache, options: PolicyOptions = {}) {
    this.#endpoint = endpoint;
    this.#cache = cache;
    this.#opts = options;
    this.#entries = new TemplateEntries(options.proxyPortFor ?? defaultProxyPort);
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
    if (stale.length > 0) this.#entries.forgetMerged();
    return this.flush();
  }

  /** Re-derives the entries of identities touched since the last flush; returns the diff. */
  flush(): MapStateDiff {
    const diff = { added: [] as MapStateRow[], changed: [] as MapStateRow[], removed: [] as MapStateRow[] };
    if (this.#dirty.length === 0) return diff;
    const ids = sortedUnion(this.#dirty);
    this.#dirty = [];
    const signatures = this.#slots.signatures(ids, (selKey) => this.#cache.selections(selKey));
    if (this.#bySignature.size > MAX_SIGNATURES) this.#bySignature.clear();
    let lastSignature: Signature | undefined;
    let entries: SignatureEntries | undefined;
    for (let i = 0; i < ids.length; i++) {
      const signature = TemplateSlots.signatureAt(signatures, i);
      if (signature !== lastSignature || !entries) {
        entries = this.#entriesOf(signature, signatures, i);
        lastSignature = signature;
      }
      this.state.replaceGroup(identityIndex('ingress', ids[i]!), entries.ingress, diff);
      this.state.replaceGroup(identityIndex('egress', ids[i]!), entries.egress, diff);
    }
    return diff;
  }

  /** The (remembered) entries of identities with the signature of the `i`-th identity. */
  #entriesOf(signature: Signature, signatures: Signatures, i: number): SignatureEntries {
    let entries = this.#bySignature.get(signature);
    if (entries) return entries;
    const templates = this.#slots.templatesAt(signatures, i);
    entries = {
      ingress: groupOf(this.#entries.derive(templates, 'ingress')),
      egress: groupOf(this.#entries.derive(templates, 'egress')),
    };
    this.#bySignature.set(signature, entries);
    return entries;
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
    this.#dirty = [];
  }

  /**
   * Re-derives the templates of the rules `affected` picks (their named ports resolve differently
   * now); returns the resulting diff.
   */
  retemplate(affected: (rule: PolicyRule) => boolean): MapStateDiff {
    const stale: Template[] = [];
    for (const [key, rule] of this.#rules) {
      if (!affected(rule)) continue;
      stale.push(...this.#takeGroup(key));
      this.#addGroup(key, this.#templatesOf(rule));
    }
    this.#dropTemplates(stale);
    if (stale.length > 0) this.#entries.forgetMerged();
    return this.flush();
  }

  #templatesOf(rule: PolicyRule): TemplateSpec[] {
    const resolverFor = (peer: PeerSelector): NamedPortResolver => (name, direction) =>
      direction === 'ingress'
        ? (this.#endpoint.namedPorts ?? []).filter((p) => p.name === name)
        : (this.#opts.egressNamedPorts?.(name, peer) ?? []);
    return rule.peerRules.flatMap((pr) => {
      // Egress named ports depend on the peer; everything else is shared by the element's peers.
      const perPeer = pr.direction === 'egress' && namedPortsOf([pr]).size > 0;
      const shared = perPeer ? [] : keyParts(pr.portRules, pr.direction, resolverFor({ kind: 'wildcard' }));
      return pr.peers.map((target) => ({
        target, direction: pr.direction, deny: pr.deny, origin: pr.origin,
        parts: perPeer ? keyParts(pr.portRules, pr.direction, resolverFor(target)) : shared,
      }));
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

  /** The sorted identities a template's selector selects now. */
  #selectionsOf(selKey: string): readonly number[] {
    return this.#slots.fixedSelection(selKey) ?? this.#cache.selections(selKey);
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
      this.#slots.add(t, typeof spec.target === 'number' ? reg.selections : undefined);
      this.#dirty.push(reg.selections);
    }
    if (stored.length > 0) this.#bySignature.clear();
    this.#byRule.set(ruleKey, stored);
  }

  #takeGroup(ruleKey: string): Template[] {
    const templates = this.#byRule.get(ruleKey) ?? [];
    this.#byRule.delete(ruleKey);
    return templates;
  }

  #dropTemplates(templates: readonly Template[]): void {
    for (const t of templates) {
      this.#dirty.push(this.#selectionsOf(t.selKey));
      this.#slots.remove(t);
      if (!t.selKey.startsWith(FIXED)) this.#cache.removeSelector(t.selKey, this.#listener);
    }
    if (templates.length > 0) this.#bySignature.clear();
  }

  #selectionChanged(selKey: string, added: readonly number[], removed: readonly number[]): void {
    if (!this.#slots.has(selKey)) return;
    this.#dirty.push(removed, added);
  }
}
