/**
 * One-shot, from-scratch computation of an endpoint's map state (the reference the incremental
 * path is tested against, and a convenience for tools).
 */
import type { LabelSet } from '../identity/labels.ts';
import type { PolicyRule } from './api/model.ts';
import { type EndpointInfo, EndpointPolicy, type PolicyOptions } from './endpoint-policy.ts';
import type { MapState } from './mapstate.ts';
import { ruleSelects } from './repository.ts';
import { SelectorCache } from './selector-cache.ts';

/** Computes the map state of `endpoint` from all `rules` and all `identities`. */
export function computeMapState(
  endpoint: EndpointInfo,
  rules: readonly PolicyRule[],
  identities: Iterable<readonly [number, LabelSet]>,
  options: PolicyOptions = {},
): MapState {
  const cache = new SelectorCache();
  cache.updateIdentities(identities);
  const ep = new EndpointPolicy(endpoint, cache, options);
  ep.setRules(rules.filter((r) => ruleSelects(r, endpoint.labels)));
  return ep.state;
}
