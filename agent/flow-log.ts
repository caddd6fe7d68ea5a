/**
 * The node's flow events: drained from the datapath's ring buffer, each with the rules that decided
 * it (resolved from the policy entry id the kernel reports), and handed to sinks: the flow log
 * (JSON lines appended to a file that rotates at a size limit, which `ciliate observe` reads) and
 * the Hubble server's ring.
 */
import { appendFileSync, existsSync, renameSync, statSync } from 'node:fs';
import { FlowEventReader, type FlowEvent } from '../datapath/events.ts';
import type { RuleOrigin } from '../policy/api/model.ts';
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

/** A flow event with when it was read and the rules that decided it. */
export interface DecidedFlow {
  event: FlowEvent;
  time: Date;
  /** The rules behind the policy entry that decided it (empty: no entry matched, default deny). */
  origins: readonly RuleOrigin[];
}

/** Receives each batch of decided flows; must not throw. */
export type FlowSink = (flows: readonly DecidedFlow[]) => void;

/** The rules behind the policy entry a kernel event names. */
export function decidingRules(e: FlowEvent, enforcer: Pick<EndpointEnforcer, 'endpoint'>): readonly RuleOrigin[] {
  const row = e.entryId ? enforcer.endpoint(e.endpointId)?.policy.explain(e.entryId) : undefined;
  return row ? row.entry.derivedFrom : [];
}

/** Turns a decided flow into a flow log record. */
export function toFlowRecord(d: DecidedFlow, node: string): FlowRecord {
  const { bytes, tsNs: _ts, ...rest } = d.event;
  return { time: d.time.toISOString(), node, ...rest, bytes: Number(bytes), policy: d.origins.map(formatOrigin) };
}

/** Appends records to `path`, moving it to `path.1` once it passes `maxBytes`. */
export function appendFlows(path: string, records: readonly FlowRecord[], maxBytes = 16 << 20): void {
  if (records.length === 0) return;
  if (existsSync(path) && statSync(path).size > maxBytes) renameSync(path, `${path}.1`);
  appendFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** The flow log at `path` as a sink. */
export function flowLogSink(path: string, node: string, log: Logger): FlowSink {
  return (flows) => {
    try {
      appendFlows(path, flows.map((d) => toFlowRecord(d, node)));
    } catch (err) {
      log.warn('could not write flow log', { err: (err as Error).message });
    }
  };
}

/** A runnable that drains the node's flow events into `sinks` until stopped, once `opened` (the kernel side is open). */
export function flowEventsRunnable(enforcer: EndpointEnforcer, sinks: readonly FlowSink[], log: Logger, opened: Promise<void>): Runnable {
  return {
    needLeaderElection: false,
    async start(signal) {
      await opened;
      if (signal.aborted) return;
      const reader = new FlowEventReader(enforcer.sharedMaps.eventsFd, (events) => {
        const time = new Date();
        const flows = events.map((event) => ({ event, time, origins: decidingRules(event, enforcer) }));
        for (const sink of sinks) {
          try {
            sink(flows);
          } catch (err) {
            log.warn('a flow consumer failed', { err: (err as Error).message });
          }
        }
      }, { intervalMs: 100 });
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      reader.close();
    },
  };
}
