// Prometheus metrics for controllers, named as in controller-runtime.
import type { Registry } from 'prom-client';
import { counter, exponentialBuckets, gauge, histogram } from './metrics.ts';

/** Reconcile outcomes used as the `result` label. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue_after';

const OUTCOMES: ReconcileOutcome[] = ['success', 'error', 'requeue_after'];

/** Recording hooks a {@link Controller} calls; bound to one controller name. */
export interface ControllerMetrics {
  /** One reconcile finished with `outcome` after `seconds`. */
  reconciled(outcome: ReconcileOutcome, seconds: number): void;
  /** A reconcile failed; `terminal` when it will not be retried. */
  failed(terminal: boolean): void;
  /** The number of busy workers changed by `delta`. */
  activeWorkers(delta: number): void;
  /** Records the configured worker count. */
  maxWorkers(n: number): void;
}

/** Creates (or reuses) the controller_runtime_* metric families, zeroed for `controller`. */
export function controllerMetrics(registry: Registry, controller: string): ControllerMetrics {
  const total = counter(registry, 'controller_runtime_reconcile_total', 'Total number of reconciliations per controller', [
    'controller',
    'result',
  ]);
  const errors = counter(registry, 'controller_runtime_reconcile_errors_total', 'Total number of reconciliation errors per controller', [
    'controller',
  ]);
  const terminal = counter(
    registry,
    'controller_runtime_terminal_reconcile_errors_total',
    'Total number of terminal reconciliation errors per controller',
    ['controller'],
  );
  const time = histogram(
    registry,
    'controller_runtime_reconcile_time_seconds',
    'Length of time per reconciliation per controller',
    ['controller'],
    exponentialBuckets(0.001, 2, 16),
  );
  const active = gauge(registry, 'controller_runtime_active_workers', 'Number of currently used workers per controller', ['controller']);
  const max = gauge(registry, 'controller_runtime_max_concurrent_reconciles', 'Maximum number of concurrent reconciles per controller', [
    'controller',
  ]);
  const c = { controller };
  for (const result of OUTCOMES) total.inc({ controller, result }, 0);
  errors.inc(c, 0);
  terminal.inc(c, 0);
  time.zero(c);
  active.set(c, 0);
  return {
    reconciled: (result, seconds) => {
      total.inc({ controller, result });
      time.observe(c, seconds);
    },
    failed: (isTerminal) => {
      errors.inc(c);
      if (isTerminal) terminal.inc(c);
    },
    activeWorkers: (delta) => active.inc(c, delta),
    maxWorkers: (n) => max.set(c, n),
  };
}
