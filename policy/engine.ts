/**
 * The policy engine: ties the repository, the selector cache and the per-endpoint policies
 * together. Every mutation returns the map-state diffs it caused, per endpoint id.
 *
 * Order of effects for one call: repository / identity set updated, selector cache updated
 * (listeners only collect dirty identities), then each affected endpoint flushes its diff.
 */
import type { LabelSet } from '../identity/labels.ts';
import type { PolicyKind, PolicyRule } from './api/model.ts';
import type { PolicyParseResult } from './api/parse-cilium-policy.ts';
import { type EndpointInfo, EndpointPolicy, namedPortsOf, type PolicyOptions } from './endpoint-policy.ts';
import { type MapState, diffMapStates } from './mapstate.ts';
import type { MapStateDiff } from './mapstate-types.ts';
import { PolicyRepository, ruleSelects } from './repository.ts';
import { SelectorCache } from './selector-cache.ts';
import { type PacketInfo, type Verdict, verdict } from './verdict.ts';

/** Diffs per endpoint id (endpoints without changes are omitted). */
export type EndpointDiffs = Map<number, MapStateDiff>;

function isEmpty(d: MapStateDiff): boolean {
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}

/** Endpoints that share one computed policy (same identity, labels and named ports). */
interface PolicyGroup {
  readonly policy: EndpointPolicy;
  readonly members: Set<number>;
}

function groupKey(ep: EndpointInfo): string {
  return `${ep.identity}|${ep.labels.canonical}|${JSON.stringify(ep.namedPorts ?? [])}`;
}

/**
 * Pure policy engine for one node. Endpoints with the same identity, labels and named ports get
 * the same map state, so their policy is computed once and shared (the distillery idea); diffs
 * are still reported per endpoint id.
 */
export class PolicyEngine {
  readonly selectorCache: SelectorCache;
  readonly repository = new PolicyRepository();
  readonly #groups = new Map<string, PolicyGroup>();
  readonly #groupOf = new Map<number, PolicyGroup>();
  readonly #options: PolicyOptions;

  constructor(options: PolicyOptions = {}) {
    this.#options = options;
    this.selectorCache = new SelectorCache({ cidrMatchesEndpoints: options.cidrMatchesEndpoints ?? false });
  }

  /** Number of distinct policy computations (endpoints sharing one count once). */
  get computationCount(): number {
    return this.#groups.size;
  }

  /** Adds/relabels and removes identities. */
  updateIdentities(added: Iterable<readonly [number, LabelSet]>, removed: Iterable<number> = []): EndpointDiffs {
    this.selectorCache.updateIdentities(added, removed);
    return this.#flushAll();
  }

  /**
   * Sets the addresses of identities' endpoints (an empty list: none), which NetworkPolicy
   * `ipBlock`s match under `cidrMatchesEndpoints`.
   */
  updateIdentityAddresses(changes: Iterable<readonly [number, readonly string[]]>): EndpointDiffs {
    this.selectorCache.setIdentityAddresses(changes);
    return this.#flushAll();
  }

  /** Every endpoint's changes from selections that moved. */
  #flushAll(): EndpointDiffs {
    const out: EndpointDiffs = new Map();
    for (const g of this.#groups.values()) this.#report(out, g, g.policy.flush());
    return out;
  }

  /** Adds or replaces a parsed policy. */
  upsertPolicy(result: PolicyParseResult): EndpointDiffs {
    const old = this.repository.upsert(result);
    return this.#reselect([...(old?.rules ?? []), ...result.rules]);
  }

  /** Removes a policy. */
  deletePolicy(kind: PolicyKind, namespace: string | undefined, name: string): EndpointDiffs {
    const old = this.repository.delete(kind, namespace, name);
    return old ? this.#reselect(old.rules) : new Map();
  }

  /**
   * Re-resolves egress named ports: rules whose egress elements name one of `names` are derived
   * again (the ports the peers carry under those names changed).
   */
  refreshNamedPorts(names: ReadonlySet<string>): EndpointDiffs {
    const out: EndpointDiffs = new Map();
    if (names.size === 0) return out;
    const affected = (rule: PolicyRule) => [...namedPortsOf(rule.peerRules.filter((pr) => pr.direction === 'egress'))].some((n) => names.has(n));
    for (const g of this.#groups.values()) this.#report(out, g, g.policy.retemplate(affected));
    return out;
  }

  /** Adds an endpoint or updates it (new labels, identity or ports); returns its diff from the previous state. */
  upsertEndpoint(endpoint: EndpointInfo): MapStateDiff {
    const previous = this.#groupOf.get(endpoint.id);
    const key = groupKey(endpoint);
    let group = this.#groups.get(key);
    let initial: MapStateDiff | undefined;
    if (!group) {
      const policy = new EndpointPolicy(endpoint, this.selectorCache, this.#options);
      initial = policy.setRules(this.repository.rulesSelecting(endpoint.labels));
      group = { policy, members: new Set() };
      this.#groups.set(key, group);
    }
    if (previous === group) return { added: [], changed: [], removed: [] };
    group.members.add(endpoint.id);
    this.#groupOf.set(endpoint.id, group);
    if (previous) {
      this.#leave(previous, endpoint.id);
      return diffMapStates(previous.policy.state, group.policy.state);
    }
    return initial ?? { added: group.policy.state.rows(), changed: [], removed: [] };
  }

  /** Forgets an endpoint. */
  removeEndpoint(id: number): void {
    const group = this.#groupOf.get(id);
    if (group) this.#leave(group, id);
  }

  /** The current map state of an endpoint (shared between endpoints of one identity: read only). */
  mapState(id: number): MapState | undefined {
    return this.#groupOf.get(id)?.policy.state;
  }

  /** L7 parser conflicts of an endpoint's policy (see EndpointPolicy.l7Conflicts). */
  l7Conflicts(id: number): readonly string[] {
    return this.#groupOf.get(id)?.policy.l7Conflicts ?? [];
  }

  /** Decides a packet for an endpoint (default deny for an unknown endpoint). */
  verdict(id: number, packet: PacketInfo): Verdict {
    const state = this.mapState(id);
    return state ? verdict(state, packet) : { verdict: 'default-deny', derivedFrom: [] };
  }

  #leave(group: PolicyGroup, id: number): void {
    group.members.delete(id);
    if (this.#groupOf.get(id) === group) this.#groupOf.delete(id);
    if (group.members.size > 0) return;
    group.policy.dispose();
    this.#groups.delete(groupKey(group.policy.endpoint));
  }

  #reselect(touchedRules: readonly PolicyRule[]): EndpointDiffs {
    const out: EndpointDiffs = new Map();
    for (const g of this.#groups.values()) {
      const labels = g.policy.endpoint.labels;
      if (!touchedRules.some((r) => ruleSelects(r, labels))) continue;
      this.#report(out, g, g.policy.setRules(this.repository.rulesSelecting(labels)));
    }
    return out;
  }

  #report(out: EndpointDiffs, group: PolicyGroup, diff: MapStateDiff): void {
    if (isEmpty(diff)) return;
    for (const id of group.members) out.set(id, diff);
  }
}
