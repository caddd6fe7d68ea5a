// Per-reason packet/byte counters (cilium_metrics) and event-path counters (cilium_events_stats).
import { metricsKeyCodec, metricsValueCodec, type MetricsKey, type MetricsValue } from '../codecs/generated.ts';
import type { BpfMap } from './bpf-map.ts';

/** cilium_metrics with per-CPU values. */
export type MetricsMap = BpfMap<MetricsKey, MetricsValue[]>;
/** cilium_events_stats: index 0 lost, 1 sent; per-CPU u64. */
export type EventStatsMap = BpfMap<number, bigint[]>;

/** Key/value codecs of cilium_metrics (value is per CPU; wrap with perCpuCodec). */
export const METRICS_CODECS = { key: metricsKeyCodec, value: metricsValueCodec } as const;

/** One summed counter row. */
export interface MetricsRow {
  reason: number;
  direction: number;
  packets: bigint;
  bytes: bigint;
}

/** All counters, summed over CPUs. */
export function readMetrics(map: MetricsMap): MetricsRow[] {
  return map.entries().map(([k, per]) => ({
    reason: k.reason,
    direction: k.dir,
    packets: per.reduce((a, v) => a + v.count, 0n),
    bytes: per.reduce((a, v) => a + v.bytes, 0n),
  }));
}

/** Event counters summed over CPUs. */
export function readEventStats(map: EventStatsMap): { lost: bigint; sent: bigint } {
  const sum = (i: number): bigint => (map.lookup(i) ?? []).reduce((a, v) => a + v, 0n);
  return { lost: sum(0), sent: sum(1) };
}
