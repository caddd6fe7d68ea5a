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
import { type EndpointInfo, EndpointPolicy, type PolicyOptions } from './endpoint-policy.ts';
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

/** Pure policy engine for one node. */
export class PolicyEngine {
  readonly selectorCache = new SelectorCache();
  readonly repository = new PolicyRepository();
  readonly #endpoints = new Map<number, EndpointPolicy>();
  readonly #options: PolicyOptions;

  constructor(options: PolicyOptions = {}) {
    this.#options = options;
  }

  /** Adds/relabels and removes identities. */
  updateIdentities(added: Iterable<readonly [number, LabelSet]>, removed: Iterable<number> = []): EndpointDiffs {
    this.selectorCache.updateIdentities(added, removed);
    return this.#flushAll([...this.#endpoints.values()]);
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

  /** Adds an endpoint (or recomputes it from scratch); returns its diff from the previous state. */
  upsertEndpoint(endpoint: EndpointInfo): MapStateDiff {
    const previous = this.#endpoints.get(endpoint.id);
    const ep = new EndpointPolicy(endpoint, this.selectorCache, this.#options);
    const initial = ep.setRules(this.repository.rulesSelecting(endpoint.labels));
    previous?.dispose();
    this.#endpoints.set(endpoint.id, ep);
    return previous ? diffMapStates(previous.state, ep.state) : initial;
  }

  /** Forgets an endpoint. */
  removeEndpoint(id: number): void {
    this.#endpoints.get(id)?.dispose();
    this.#endpoints.delete(id);
  }

  /** The current map state of an endpoint. */
  mapState(id: number): MapState | undefined {
    return this.#endpoints.get(id)?.state;
  }

  /** L7 parser conflicts of an endpoint's policy (see EndpointPolicy.l7Conflicts). */
  l7Conflicts(id: number): readonly string[] {
    return this.#endpoints.get(id)?.l7Conflicts ?? [];
  }

  /** Decides a packet for an endpoint (default deny for an unknown endpoint). */
  verdict(id: number, packet: PacketInfo): Verdict {
    const state = this.mapState(id);
    return state ? verdict(state, packet) : { verdict: 'default-deny', derivedFrom: [] };
  }

  #reselect(touchedRules: readonly PolicyRule[]): EndpointDiffs {
    const affected = [...this.#endpoints.values()].filter((ep) => touchedRules.some((r) => ruleSelects(r, ep.endpoint.labels)));
    const out: EndpointDiffs = new Map();
    for (const ep of affected) {
      const d = ep.setRules(this.repository.rulesSelecting(ep.endpoint.labels));
      if (!isEmpty(d)) out.set(ep.endpoint.id, d);
    }
    return out;
  }

  #flushAll(eps: readonly EndpointPolicy[]): EndpointDiffs {
    const out: EndpointDiffs = new Map();
    for (const ep of eps) {
      const d = ep.flush();
      if (!isEmpty(d)) out.set(ep.endpoint.id, d);
    }
    return out;
  }
}
