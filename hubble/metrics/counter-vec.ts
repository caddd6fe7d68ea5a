/**
 * A Prometheus counter keyed by label values, counted in a plain map and handed to prom-client only
 * when scraped: a flow costs one key lookup per metric, and the caller reuses its value buffer.
 */
import { Counter, type Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  value: number;
}

/** A counter family whose series are keyed by their label values in `labelNames` order. */
export class CounterVec {
  private readonly series = new Map<string, Series>();

  /** Registers `name` on `registry`. */
  constructor(registry: Registry, name: string, help: string, readonly labelNames: readonly string[]) {
    const series = this.series;
    new Counter({
      name, help, labelNames: [...labelNames], registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const s of series.values()) this.inc(s.labels, s.value);
      },
    });
  }

  /** Adds `n` to the series of the first `labelNames.length` entries of `values`. */
  inc(values: readonly string[], n = 1): void {
    const count = this.labelNames.length;
    let key = '';
    for (let i = 0; i < count; i++) key += (i ? '\u0000' : '') + values[i];
    const s = this.series.get(key);
    if (s) {
      s.value += n;
      return;
    }
    const labels: Record<string, string> = {};
    for (let i = 0; i < count; i++) labels[this.labelNames[i]!] = values[i]!;
    this.series.set(key, { labels, value: n });
  }

  /** Removes every series whose labels satisfy `pred`; returns how many. */
  deleteWhere(pred: (labels: Readonly<Record<string, string>>) => boolean): number {
    let n = 0;
    for (const [key, s] of this.series) {
      if (pred(s.labels)) {
        this.series.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Series counted so far. */
  get size(): number {
    return this.series.size;
  }
}
