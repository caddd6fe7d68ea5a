// Prometheus metrics for work queues, named as in upstream Kubernetes (workqueue_*{name}).
import type { Registry } from 'prom-client';
import { counter, exponentialBuckets, gauge, histogram } from './metrics.ts';

/** Recording hooks a {@link WorkQueue} calls; one instance per queue name. */
export interface WorkQueueMetrics {
  /** The queue length changed to `depth`. */
  depth(depth: number): void;
  /** A new (non-duplicate) key was queued. */
  added(): void;
  /** A key was scheduled for a rate-limited retry. */
  retried(): void;
  /** A key waited `seconds` between being queued and being handed to a worker. */
  queued(seconds: number): void;
  /** A worker held a key for `seconds`. */
  worked(seconds: number): void;
}

const LATENCY_BUCKETS = exponentialBuckets(1e-8, 10, 10);

/**
 * Creates (or reuses, when several queues share `registry`) the workqueue metric families and
 * returns hooks bound to `name`. Every series for `name` is initialised to zero.
 */
export function workQueueMetrics(registry: Registry, name: string): WorkQueueMetrics {
  const depth = gauge(registry, 'workqueue_depth', 'Current depth of workqueue', ['name']);
  const adds = counter(registry, 'workqueue_adds_total', 'Total number of adds handled by workqueue', ['name']);
  const retries = counter(registry, 'workqueue_retries_total', 'Total number of retries handled by workqueue', ['name']);
  const queueDuration = histogram(
    registry,
    'workqueue_queue_duration_seconds',
    'How long in seconds an item stays in workqueue before being requested',
    ['name'],
    LATENCY_BUCKETS,
  );
  const workDuration = histogram(
    registry,
    'workqueue_work_duration_seconds',
    'How long in seconds processing an item from workqueue takes',
    ['name'],
    LATENCY_BUCKETS,
  );
  const labels = { name };
  depth.set(labels, 0);
  adds.inc(labels, 0);
  retries.inc(labels, 0);
  queueDuration.zero(labels);
  workDuration.zero(labels);
  return {
    depth: (n) => depth.set(labels, n),
    added: () => adds.inc(labels),
    retried: () => retries.inc(labels),
    queued: (s) => queueDuration.observe(labels, s),
    worked: (s) => workDuration.observe(labels, s),
  };
}

/** Metrics hooks that record nothing. */
export const noWorkQueueMetrics: WorkQueueMetrics = {
  depth: () => undefined,
  added: () => undefined,
  retried: () => undefined,
  queued: () => undefined,
  worked: () => undefined,
};
