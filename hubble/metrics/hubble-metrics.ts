/**
 * A node's Hubble metrics: the metrics the `hubble-metrics` setting enables, counted from every flow
 * the node's ring receives, plus `hubble_lost_events_total` by source, on a registry of their own
 * (served on `hubble-metrics-server`, apart from the agent's metrics). As upstream, series bound to a
 * pod (its `namespace/name` as source or destination context, or its namespace and name as
 * `labelsContext` labels) go a minute after the pod does, so deleted pods do not pile up.
 */
import { Registry } from 'prom-client';
import type { Flow } from '../flow-types.ts';
import { CounterVec } from './counter-vec.ts';
import { metricHandler, type FlowHandler } from './handlers.ts';
import type { MetricSpec } from './options.ts';

/** Where lost events were lost (flow.LostEventSource names). */
export type LostEventSource = 'PERF_EVENT_RING_BUFFER' | 'OBSERVER_EVENTS_QUEUE' | 'HUBBLE_RING_BUFFER';

/** How long the series of a deleted pod stay. */
export const DELETED_POD_SERIES_TTL_MS = 60_000;

/** The enabled metrics of one node. */
export class HubbleMetrics {
  /** The registry to serve. */
  readonly registry = new Registry();
  private readonly vecs: CounterVec[] = [];
  private readonly handlers: FlowHandler[];
  private readonly lostEvents: CounterVec;
  private readonly lostLabel: string[] = [''];

  /** Registers `specs` (parsed from `hubble-metrics`) and the lost-events counter. */
  constructor(specs: readonly MetricSpec[]) {
    const make = (name: string, help: string, labelNames: readonly string[]) => {
      const vec = new CounterVec(this.registry, name, help, labelNames);
      this.vecs.push(vec);
      return vec;
    };
    this.handlers = specs.map((s) => metricHandler(make, s));
    this.lostEvents = new CounterVec(this.registry, 'hubble_lost_events_total', 'Number of lost events', ['source']);
  }

  /** Removes the series bound to pod `namespace/name` at once; returns how many. */
  forgetPod(namespace: string, name: string): number {
    const pod = `${namespace}/${name}`;
    const bound = (l: Readonly<Record<string, string>>) => l.source === pod || l.destination === pod
      || (l.source_namespace === namespace && l.source_pod === name) || (l.destination_namespace === namespace && l.destination_pod === name);
    return this.vecs.reduce((n, v) => n + v.deleteWhere(bound), 0);
  }

  /** Removes the series bound to a pod that was just deleted, {@link DELETED_POD_SERIES_TTL_MS} from now. */
  podDeleted(namespace: string, name: string): void {
    setTimeout(() => this.forgetPod(namespace, name), DELETED_POD_SERIES_TTL_MS).unref();
  }

  /** Counts one flow into every enabled metric. */
  process(flow: Flow): void {
    for (const h of this.handlers) h(flow);
  }

  /** Counts `n` events lost at `source`. */
  lost(source: LostEventSource, n: number): void {
    if (n <= 0) return;
    this.lostLabel[0] = source.toLowerCase();
    this.lostEvents.inc(this.lostLabel, n);
  }
}
