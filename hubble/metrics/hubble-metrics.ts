/**
 * A node's Hubble metrics: the metrics the `hubble-metrics` setting enables, counted from every flow
 * the node's ring receives, plus `hubble_lost_events_total` by source, on a registry of their own
 * (served on `hubble-metrics-server`, apart from the agent's metrics).
 */
import { Registry } from 'prom-client';
import type { Flow } from '../flow-types.ts';
import { CounterVec } from './counter-vec.ts';
import { metricHandler, type FlowHandler } from './handlers.ts';
import type { MetricSpec } from './options.ts';

/** Where lost events were lost (flow.LostEventSource names). */
export type LostEventSource = 'PERF_EVENT_RING_BUFFER' | 'OBSERVER_EVENTS_QUEUE' | 'HUBBLE_RING_BUFFER';

/** The enabled metrics of one node. */
export class HubbleMetrics {
  /** The registry to serve. */
  readonly registry = new Registry();
  private readonly handlers: FlowHandler[];
  private readonly lostEvents: CounterVec;
  private readonly lostLabel: string[] = [''];

  /** Registers `specs` (parsed from `hubble-metrics`) and the lost-events counter. */
  constructor(specs: readonly MetricSpec[]) {
    this.handlers = specs.map((s) => metricHandler(this.registry, s));
    this.lostEvents = new CounterVec(this.registry, 'hubble_lost_events_total', 'Number of lost events', ['source']);
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
