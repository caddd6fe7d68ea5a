/**
 * The node's flow log: flow events from the datapath's ring buffer, each with the rules that decided
 * it (resolved from the policy entry id the kernel reports), appended as JSON lines to a file that
 * rotates at a size limit. `ciliate observe` reads these files, Hubble-style.
 */
import { appendFileSync, existsSync, renameSync, statSync } from 'node:fs';
import { FlowEventReader, type FlowEvent } from '../datapath/events.ts';
import { formatOrigin } from '../policy/mapstate-types.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';

/** The flow log's file name in the agent's state folder. */
export const FLOW_LOG = 'flows.jsonl';

/** One line of the flow log. */
export interface FlowRecord extends Omit<FlowEvent, 'bytes' | 'tsNs'> {
  time: string;
  node: string;
  bytes: number;
  /** The rules behind the policy entry that decided the flow (empty: no entry matched, default deny). */
  policy: string[];
}

/** Turns a kernel event into a flow record, naming the rules behind its policy entry. */
export function toFlowRecord(e: FlowEvent, node: string, enforcer: Pick<EndpointEnforcer, 'endpoint'>, now = new Date()): FlowRecord {
  const row = e.entryId ? enforcer.endpoint(e.endpointId)?.policy.explain(e.entryId) : undefined;
  const { bytes, tsNs: _ts, ...rest } = e;
  return { time: now.toISOString(), node, ...rest, bytes: Number(bytes), policy: row ? row.entry.derivedFrom.map(formatOrigin) : [] };
}

/** Appends records to `path`, moving it to `path.1` once it passes `maxBytes`. */
export function appendFlows(path: string, records: readonly FlowRecord[], maxBytes = 16 << 20): void {
  if (records.length === 0) return;
  if (existsSync(path) && statSync(path).size > maxBytes) renameSync(path, `${path}.1`);
  appendFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** A runnable that drains the node's flow events into `path` until stopped. */
export function flowLogRunnable(enforcer: EndpointEnforcer, path: string, node: string, log: Logger): Runnable {
  return {
    needLeaderElection: false,
    async start(signal) {
      const reader = new FlowEventReader(enforcer.sharedMaps.eventsFd, (events) => {
        try {
          appendFlows(path, events.map((e) => toFlowRecord(e, node, enforcer)));
        } catch (err) {
          log.warn('could not write flow log', { err: (err as Error).message });
        }
      }, { intervalMs: 100 });
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      reader.close();
    },
  };
}
