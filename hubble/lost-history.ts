/**
 * Losses reported to followers, kept (the most recent few) so that a history request also hears of
 * them, in time order among its flows, as upstream's ring holds lost events among its flows.
 */
import type { Flow } from './flow-types.ts';
import { timestampMs } from './flow-types.ts';
import type { LostEventSource } from './metrics/hubble-metrics.ts';

/** One report of lost events. */
export interface LostRecord {
  ms: number;
  source: LostEventSource;
  n: number;
}

/** How many reports are kept. */
export const LOST_HISTORY_MAX = 64;

/** The most recent reports of lost events. */
export class LostHistory {
  private readonly records: LostRecord[] = [];

  /** @param max reports kept; older ones are forgotten. */
  constructor(private readonly max = LOST_HISTORY_MAX) {}

  /** Keeps a report. */
  add(record: LostRecord): void {
    this.records.push(record);
    if (this.records.length > this.max) this.records.shift();
  }

  /** The reports from `fromMs` to `toMs` (inclusive), oldest first. */
  between(fromMs: number, toMs: number): LostRecord[] {
    return this.records.filter((r) => r.ms >= fromMs && r.ms <= toMs);
  }
}

/** Hands `flows` and `lost` (each oldest first) to their callbacks in time order; a report goes before flows of the same time. */
export function inTimeOrder(flows: readonly Flow[], lost: readonly LostRecord[], onFlow: (f: Flow) => void, onLost: (r: LostRecord) => void): void {
  let j = 0;
  for (const f of flows) {
    const t = timestampMs(f.time);
    while (j < lost.length && lost[j]!.ms <= t) onLost(lost[j++]!);
    onFlow(f);
  }
  while (j < lost.length) onLost(lost[j++]!);
}
