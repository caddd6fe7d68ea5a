/**
 * Upstream's core agent metrics on the agent's metrics endpoint, read from the agent's state at each
 * scrape: `cilium_policy` (policy rules loaded), `cilium_endpoint_state{endpoint_state}`,
 * `cilium_identity{type}` (identities the agent knows, by scope), and
 * `cilium_policy_endpoint_enforcement_status{enforcement}`; and, observed as they happen, endpoint
 * regenerations (`cilium_endpoint_regenerations_total{outcome}`,
 * `cilium_endpoint_regeneration_time_stats_seconds{scope,status}` and its older name
 * `cilium_policy_regeneration_time_stats_seconds`).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { IDENTITY_SCOPE_LOCAL, IDENTITY_SCOPE_REMOTE_NODE, identityScope, isReservedRange } from '../identity/numeric.ts';

/** An endpoint as the metrics see it. */
export interface EndpointStatus {
  /** Upstream's endpoint state name (`ready`, `waiting-for-identity`, ...). */
  state: string;
  enforcement: { ingress: boolean; egress: boolean };
}

/** What the metrics read at scrape time. */
export interface CoreMetricsSource {
  /** Policy rules loaded (each CNP/CCNP spec, each NetworkPolicy). */
  policyRules(): number;
  endpoints(): EndpointStatus[];
  /** Every identity the agent knows. */
  identities(): Iterable<number>;
}

/** Records one endpoint regeneration: how long it took and whether it succeeded. */
export type RegenerationObserver = (seconds: number, ok: boolean) => void;

/** Upstream's identity type of a numeric identity. */
export function identityType(id: number): string {
  if (isReservedRange(id)) return 'reserved';
  const scope = identityScope(id);
  if (scope === IDENTITY_SCOPE_LOCAL) return 'node_local';
  if (scope === IDENTITY_SCOPE_REMOTE_NODE) return 'remote_node';
  return 'cluster_local';
}

/** Upstream's enforcement label of an endpoint: ingress, egress, both or none. */
export function enforcementLabel(e: EndpointStatus['enforcement']): string {
  return e.ingress && e.egress ? 'both' : e.ingress ? 'ingress' : e.egress ? 'egress' : 'none';
}

/** A gauge whose series are recomputed from `counts` at each scrape. */
function gauge(registry: Registry, name: string, help: string, label: string | undefined, counts: () => Map<string, number> | number): void {
  new Gauge({
    name, help, labelNames: label ? [label] : [], registers: [registry],
    collect(this: Gauge) {
      this.reset();
      const c = counts();
      if (typeof c === 'number') this.set(c);
      else for (const [value, n] of c) this.set({ [label!]: value }, n);
    },
  });
}

/** Counts of `keys`. */
function tally(keys: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** Registers the core metrics on `registry`; returns the observer of endpoint regenerations. */
export function registerCoreMetrics(registry: Registry, src: CoreMetricsSource): RegenerationObserver {
  gauge(registry, 'cilium_policy', 'Number of policies currently loaded', undefined, () => src.policyRules());
  gauge(registry, 'cilium_endpoint_state', 'Count of all endpoints, tagged by different endpoint states', 'endpoint_state',
    () => tally(src.endpoints().map((e) => e.state)));
  gauge(registry, 'cilium_identity', 'Number of identities currently allocated', 'type', () => tally([...src.identities()].map(identityType)));
  gauge(registry, 'cilium_policy_endpoint_enforcement_status', 'Number of endpoints labeled by policy enforcement status', 'enforcement',
    () => tally(src.endpoints().map((e) => enforcementLabel(e.enforcement))));
  const regenerations = new Counter({
    name: 'cilium_endpoint_regenerations_total', help: 'Count of all endpoint regenerations that have completed, tagged by outcome',
    labelNames: ['outcome'], registers: [registry],
  });
  const times = ['cilium_endpoint_regeneration_time_stats_seconds', 'cilium_policy_regeneration_time_stats_seconds'].map((name) => new Histogram({
    name, help: 'Endpoint regeneration time stats labeled by the scope', labelNames: ['scope', 'status'], registers: [registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }));
  return (seconds, ok) => {
    regenerations.inc({ outcome: ok ? 'success' : 'fail' });
    for (const h of times) h.observe({ scope: 'total', status: ok ? 'success' : 'failure' }, seconds);
  };
}
