// Get-or-create helpers so several queues/controllers can share one prom-client registry.
import { Counter, Gauge, Histogram, Registry, register as defaultRegistry } from 'prom-client';

/** The registry used when none is injected: prom-client's global one. */
export { defaultRegistry };

/** Returns the counter `name` from `registry`, creating it on first use. */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const found = registry.getSingleMetric(name);
  if (found) return found as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** Returns the gauge `name` from `registry`, creating it on first use. */
export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Gauge<L> {
  const found = registry.getSingleMetric(name);
  if (found) return found as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

/** Returns the histogram `name` from `registry`, creating it on first use. */
export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  buckets: number[],
): Histogram<L> {
  const found = registry.getSingleMetric(name);
  if (found) return found as Histogram<L>;
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** Exponential buckets `start, start*factor, ...` (`count` of them), for latency histograms. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
