/**
 * Which stored flows a GetFlows request asks for, as upstream answers: `first` takes the oldest
 * `number` matching flows, otherwise the newest `number` in time order; `since`/`until` bound the
 * time; number 0 means all of them, except when following without `since` (only new flows then).
 */
import type { Flow, GetFlowsRequest } from './flow-types.ts';
import { timestampMs } from './flow-types.ts';
import type { FlowPredicate } from './filters.ts';

/** Whether a flow's time is inside the request's since/until window. */
export function inWindow(req: GetFlowsRequest): (f: Flow) => boolean {
  const since = req.since ? timestampMs(req.since) : -Infinity;
  const until = req.until ? timestampMs(req.until) : Infinity;
  return (f) => {
    const t = timestampMs(f.time);
    return t >= since && t <= until;
  };
}

/** Stored flows in either order (a FlowRing builds each only as it is reached). */
export interface StoredFlows {
  flows(order: 'oldest' | 'newest'): Iterable<Flow>;
}

/** The stored flows the request selects, oldest first; with `number`, only as many are read as it takes. */
export function selectHistory(stored: StoredFlows, req: GetFlowsRequest, matches: FlowPredicate): Flow[] {
  const number = Number(req.number ?? 0);
  if (number === 0 && req.follow && !req.since) return [];
  const window = inWindow(req);
  const ok = (f: Flow) => window(f) && matches(f);
  if (req.first) {
    const out: Flow[] = [];
    for (const f of stored.flows('oldest')) {
      if (number > 0 && out.length >= number) break;
      if (ok(f)) out.push(f);
    }
    return out;
  }
  const out: Flow[] = [];
  for (const f of stored.flows('newest')) {
    if (number > 0 && out.length >= number) break;
    if (ok(f)) out.push(f);
  }
  return out.reverse();
}
