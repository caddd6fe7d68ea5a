/**
 * The node's flow events: drained from the datapath's ring buffer, each with the rules that decided
 * it (resolved from the policy entry id the kernel reports), and handed to sinks: the flow log
 * (JSON lines appended to a file that rotates at a size limit, which `ciliate observe` reads) and
 * the Hubble server's ring.
 */
import { appendFileSync, existsSync, renameSync, statSync } from 'node:fs';
import { FlowBatchReader, type FlowEvent, type FlowEventBatch } from '../datapath/events.ts';
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

/**
 * One batch of flow events as read: its records (decoded on demand), when it was read, and per
 * record the rules that decided it (resolved when read, while the policy that decided is in force).
 */
export interface DecidedFlows {
  events: FlowEventBatch;
  time: Date;
  /** Per record: the rules behind the policy entry that decided it (empty: no entry matched, default deny). */
  origins: readonly (readonly RuleOrigin[])[];
}

/** Receives each batch of decided flows; must not throw. */
export type FlowSink = (flows: DecidedFlows) => void;

const NO_RULES: readonly RuleOrigin[] = [];

/** The rules behind the policy entry of each record of `batch`, looked up once per endpoint and entry. */
export function decidingRules(batch: FlowEventBatch, enforcer: Pick<EndpointEnforcer, 'endpoint'>): (readonly RuleOrigin[])[] {
  const known = new Map<number, readonly RuleOrigin[]>();
  const out = new Array<readonly RuleOrigin[]>(batch.count);
  for (let i = 0; i < batch.count; i++) {
    const entryId = batch.entryId(i), endpointId = batch.endpointId(i);
    if (!entryId) {
      out[i] = NO_RULES;
      continue;
    }
    // Endpoint ids are 16-bit: one number keys both.
    const key = entryId * 65536 + endpointId;
    let rules = known.get(key);
    if (!rules) {
      rules = enforcer.endpoint(endpointId)?.policy.explain(entryId)?.entry.derivedFrom ?? NO_RULES;
      known.set(key, rules);
    }
    out[i] = rules;
  }
  return out;
}

/** Turns a decided event into a flow log record. */
export function toFlowRecord(event: FlowEvent, origins: readonly RuleOrigin[], time: Date, node: string): FlowRecord {
  const { bytes, tsNs: _ts, ...rest } = event;
  return { time: time.toISOString(), node, ...rest, bytes: Number(bytes), policy: origins.map(formatOrigin) };
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
      appendFlows(path, flows.events.events().map((e, i) => toFlowRecord(e, flows.origins[i]!, flows.time, node)));
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
      const reader = new FlowBatchReader(enforcer.sharedMaps.eventsFd, (events) => {
        const flows: DecidedFlows = { events, time: new Date(), origins: decidingRules(events, enforcer) };
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
