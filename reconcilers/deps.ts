// What every operator reconciler is given.
import type { Registry } from 'prom-client';
import type { OperatorMetrics } from '../operator/metrics.ts';
import type { Clock, EventRecorder, Logger, ResourceRef, StatusWriter } from '../runtime/index.ts';
import type { ObjectApi } from './api.ts';

/** Shared dependencies of the operator's reconcilers. */
export interface ReconcilerDeps {
  /** Object writes and direct reads. */
  api: ObjectApi;
  /** Status subresource writes for a resource. */
  status: (ref: ResourceRef) => StatusWriter;
  /** Kubernetes Events. */
  events: EventRecorder;
  /** Logger. */
  log: Logger;
  /** Operator metrics. */
  metrics: OperatorMetrics;
  /** Registry for controller/workqueue metrics. */
  registry: Registry;
  /** Time source. */
  clock: Clock;
}
