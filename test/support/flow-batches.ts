/**
 * Flow event batches for tests: decoded FlowEvents encoded back into the native reader's batch
 * layout ([u32 len][u32 0][struct flow_event], 8-byte aligned), as the agent's sinks receive them.
 */
import { flowEventCodec } from '../../datapath/codecs/generated.ts';
import { CtState, Direction, EventType, FLOW_FLAG, MatchType } from '../../datapath/constants.ts';
import { FlowEventBatch, type FlowEvent } from '../../datapath/events.ts';
import { ipv4ToNumber } from '../../datapath/net.ts';
import type { DecidedFlows } from '../../agent/flow-log.ts';
import type { RuleOrigin } from '../../policy/api/model.ts';

/** The batch the native reader would hand over for `events`. */
export function flowEventBatch(events: readonly FlowEvent[]): FlowEventBatch {
  return new FlowEventBatch(flowEventRecords(events));
}

/** The bytes of the batch the native reader would hand over for `events`. */
export function flowEventRecords(events: readonly FlowEvent[]): Buffer {
  const size = flowEventCodec.size, stride = 8 + Math.ceil(size / 8) * 8;
  const buf = Buffer.alloc(stride * events.length);
  events.forEach((e, i) => {
    buf.writeUInt32LE(size, i * stride);
    flowEventCodec.encode({
      type: EventType[e.type], reason: e.dropReason, source: e.endpointId,
      dir: Direction[e.direction], matchType: MatchType[e.matchType as keyof typeof MatchType] ?? 0,
      proto: e.protocol, tcpFlags: e.tcpFlags, tsNs: e.tsNs, srcIdentity: e.srcIdentity, dstIdentity: e.dstIdentity,
      saddr: ipv4ToNumber(e.srcIp), daddr: ipv4ToNumber(e.dstIp), sport: e.srcPort, dport: e.dstPort,
      ifindex: e.ifindex, entryId: e.entryId, proxyPort: e.proxyPort, ctState: CtState[e.ctState],
      flags: e.serviceLoopback ? FLOW_FLAG.SERVICE_LOOPBACK : 0, packets: e.packets, bytes: e.bytes,
    }, buf, i * stride + 8);
  });
  return buf;
}

/** `events` read at `time` as one batch, each decided by its `origins`. */
export function decidedFlows(events: ReadonlyArray<{ event: FlowEvent; origins: readonly RuleOrigin[] }>, time = new Date()): DecidedFlows {
  return { events: flowEventBatch(events.map((e) => e.event)), time, origins: events.map((e) => e.origins) };
}
