/**
 * A Prometheus counter keyed by label values, counted in a tree of maps (one level per label) and
 * handed to prom-client only when scraped: a flow costs one map lookup per label of each metric, on
 * strings that are mostly constants, and the caller reuses its value buffer.
 */
import { Counter, type Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  value: number;
}

/** A level of the tree: the next label's values, down to the series at the last level. */
type Level = Map<string, Level | Series>;

/** A counter family whose series are keyed by their label values in `labelNames` order. */
export class CounterVec {
  private readonly root: Level = new Map();
  private readonly all = new Set<Series>();

  /** Registers `name` on `registry`. */
  constructor(registry: Registry, name: string, help: string, readonly labelNames: readonly string[]) {
    const all = this.all;
    new Counter({
      name, help, labelNames: [...labelNames], registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const s of all) this.inc(s.labels, s.value);
      },
    });
  }

  /** Adds `n` to the series of the first `labelNames.length` entries of `values`. */
  inc(values: readonly string[], n = 1): void {
    const last = this.labelNames.length - 1;
    let level = this.root;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]!) as Level | undefined;
      if (!next) level.set(values[i]!, (next = new Map()));
      level = next;
    }
    const key = last < 0 ? '' : values[last]!;
    const s = level.get(key) as Series | undefined;
    if (s) {
      s.value += n;
      return;
    }
    const labels: Record<string, string> = {};
    for (let i = 0; i <= last; i++) labels[this.labelNames[i]!] = values[i]!;
    const series = { labels, value: n };
    level.set(key, series);
    this.all.add(series);
  }

  /** Removes every series whose labels satisfy `pred`; returns how many. */
  deleteWhere(pred: (labels: Readonly<Record<string, string>>) => boolean): number {
    const prune = (level: Level, depth: number): number => {
      let n = 0;
      for (const [key, child] of level) {
        if (depth === this.labelNames.length - 1 || this.labelNames.length === 0) {
          const s = child as Series;
          if (!pred(s.labels)) continue;
          level.delete(key);
          this.all.delete(s);
          n++;
        } else {
          n += prune(child as Level, depth + 1);
          if ((child as Level).size === 0) level.delete(key);
        }
      }
      return n;
    };
    return prune(this.root, 0);
  }

  /** Series counted so far. */
  get size(): number {
    return this.all.size;
  }
}
