/**
 * Upstream's core datapath counters on the agent's metrics endpoint, read from the kernel's
 * `cilium_metrics` map at each scrape (so they count what the datapath did even while the agent was
 * down): `cilium_drop_count_total` / `cilium_drop_bytes_total` by reason text and direction, and
 * `cilium_forward_count_total` / `cilium_forward_bytes_total` by direction.
 */
import { Counter, type Registry } from 'prom-client';
import { directionText, dropReasonText } from '../datapath/constants.ts';
import { readMetrics, type MetricsMap, type MetricsRow } from '../datapath/maps/metrics.ts';

/** Registers the four counters on `registry`, each filled from `map` when scraped. */
export function registerDatapathMetrics(registry: Registry, map: () => MetricsMap): void {
  let rows: MetricsRow[] = [];
  let readAt = 0;
  /** One read of the map per scrape, shared by the four counters. */
  const current = (): MetricsRow[] => {
    if (Date.now() - readAt > 500) {
      try {
        rows = readMetrics(map());
        readAt = Date.now();
      } catch {
        rows = []; // the datapath is not loaded yet
      }
    }
    return rows;
  };
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter, r: MetricsRow) => void) =>
    new Counter({
      name, help, labelNames, registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const r of current()) fill(this, r);
      },
    });
  counter('cilium_drop_count_total', 'Total dropped packets, tagged by drop reason and ingress/egress direction', ['reason', 'direction'],
    (c, r) => r.reason !== 0 && c.inc({ reason: dropReasonText(r.reason), direction: directionText(r.direction) }, Number(r.packets)));
  counter('cilium_drop_bytes_total', 'Total dropped bytes, tagged by drop reason and ingress/egress direction', ['reason', 'direction'],
    (c, r) => r.reason !== 0 && c.inc({ reason: dropReasonText(r.reason), direction: directionText(r.direction) }, Number(r.bytes)));
  counter('cilium_forward_count_total', 'Total forwarded packets, tagged by ingress/egress direction', ['direction'],
    (c, r) => r.reason === 0 && c.inc({ direction: directionText(r.direction) }, Number(r.packets)));
  counter('cilium_forward_bytes_total', 'Total forwarded bytes, tagged by ingress/egress direction', ['direction'],
    (c, r) => r.reason === 0 && c.inc({ direction: directionText(r.direction) }, Number(r.bytes)));
}
