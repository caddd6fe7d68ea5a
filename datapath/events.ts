// Flow events: drains the ring buffer in batches inside Node's event loop (timer + kernel wakeups);
// a batch reads single fields of its records in place and decodes a record into a FlowEvent only
// when asked, so that a consumer that keeps records for later allocates nothing per record.
import { native, type NativeRingReader } from './native.ts';
import { FLOW_EVENT_LAYOUT, flowEventCodec, type FlowEvent as RawFlowEvent } from './codecs/generated.ts';
import { CtState, dropReasonText, Direction, EventType, FLOW_FLAG, matchTypeName } from './constants.ts';
import { cachedIpv4 } from './net.ts';

/** A decoded flow observation. */
export interface FlowEvent {
  type: 'DROP' | 'TRACE' | 'POLICY_VERDICT';
  verdict: 'FORWARDED' | 'DROPPED';
  /** Upstream drop reason code (0 when forwarded) and its description. */
  dropReason: number;
  dropReasonDesc: string;
  matchType: string;
  direction: 'INGRESS' | 'EGRESS';
  endpointId: number;
  srcIdentity: number;
  dstIdentity: number;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  tcpFlags: number;
  ctState: 'NEW' | 'ESTABLISHED' | 'REPLY';
  ifindex: number;
  /** Policy entry id that decided (0 when no entry matched). */
  entryId: number;
  proxyPort: number;
  /** Packets and bytes folded into this event by aggregation. */
  packets: number;
  bytes: bigint;
  /** Kernel monotonic time of the event. */
  tsNs: bigint;
  /** The flow is a pod's connection to itself through a service (service hairpin). */
  serviceLoopback: boolean;
}

const TYPE_NAMES: Record<number, FlowEvent['type']> = {
  [EventType.DROP]: 'DROP', [EventType.TRACE]: 'TRACE', [EventType.POLICY_VERDICT]: 'POLICY_VERDICT',
};
const CT_NAMES: Record<number, FlowEvent['ctState']> = { [CtState.NEW]: 'NEW', [CtState.ESTABLISHED]: 'ESTABLISHED', [CtState.REPLY]: 'REPLY' };

/** Turns a raw record into a FlowEvent. */
export function toFlowEvent(r: RawFlowEvent): FlowEvent {
  return {
    type: TYPE_NAMES[r.type] ?? 'TRACE',
    verdict: r.type === EventType.DROP ? 'DROPPED' : 'FORWARDED',
    dropReason: r.reason,
    dropReasonDesc: r.reason ? dropReasonText(r.reason) : '',
    matchType: matchTypeName(r.matchType),
    direction: r.dir === Direction.EGRESS ? 'EGRESS' : 'INGRESS',
    endpointId: r.source,
    srcIdentity: r.srcIdentity,
    dstIdentity: r.dstIdentity,
    srcIp: cachedIpv4(r.saddr),
    dstIp: cachedIpv4(r.daddr),
    srcPort: r.sport,
    dstPort: r.dport,
    protocol: r.proto,
    tcpFlags: r.tcpFlags,
    ctState: CT_NAMES[r.ctState] ?? 'NEW',
    ifindex: r.ifindex,
    entryId: r.entryId,
    proxyPort: r.proxyPort,
    packets: r.packets,
    bytes: r.bytes,
    tsNs: r.tsNs,
    serviceLoopback: (r.flags & FLOW_FLAG.SERVICE_LOOPBACK) !== 0,
  };
}

const F = FLOW_EVENT_LAYOUT.fields;
/** The 4-byte fields that name a record's ends. */
const END_FIELDS = [F.src_identity.offset, F.dst_identity.offset, F.saddr.offset, F.daddr.offset];

/**
 * One drained batch of records, kept as the bytes the native reader handed over
 * ([u32 len][u32 0][record][pad to 8] ...): single fields are read in place, a whole record is
 * decoded by {@link FlowEventBatch.event}. Records shorter than struct flow_event are skipped.
 */
export class FlowEventBatch {
  /** Records in the batch. */
  readonly count: number;
  private readonly offsets: Int32Array;

  constructor(private readonly buf: Buffer) {
    const offsets: number[] = [];
    let off = 0;
    while (off + 8 <= buf.length) {
      const len = buf.readUInt32LE(off);
      off += 8;
      if (len >= flowEventCodec.size && off + flowEventCodec.size <= buf.length) offsets.push(off);
      off += Math.ceil(len / 8) * 8;
    }
    this.offsets = Int32Array.from(offsets);
    this.count = offsets.length;
  }

  /** Record `i` decoded. */
  event(i: number): FlowEvent {
    return toFlowEvent(flowEventCodec.decode(this.buf, this.offsets[i]!));
  }

  /** Every record decoded. */
  events(): FlowEvent[] {
    return Array.from({ length: this.count }, (_, i) => this.event(i));
  }

  /** Record `i`'s endpoint id. */
  endpointId(i: number): number {
    return this.buf.readUInt16LE(this.offsets[i]! + F.source.offset);
  }

  /** Record `i`'s policy entry id (0: none). */
  entryId(i: number): number {
    return this.buf.readUInt32LE(this.offsets[i]! + F.entry_id.offset);
  }

  /** Whether record `i` is of traffic into its endpoint. */
  ingress(i: number): boolean {
    return this.buf.readUInt8(this.offsets[i]! + F.dir.offset) !== Direction.EGRESS;
  }

  /** Record `i`'s IP protocol number. */
  protocol(i: number): number {
    return this.buf.readUInt8(this.offsets[i]! + F.proto.offset);
  }

  /** Record `i`'s source (`end` 0) or destination (1) address. */
  address(i: number, end: 0 | 1): string {
    return cachedIpv4(this.buf.readUInt32BE(this.offsets[i]! + (end ? F.daddr.offset : F.saddr.offset)));
  }

  /** Whether records `i` and `j` have the same source and destination addresses and identities. */
  sameEnds(i: number, j: number): boolean {
    const a = this.offsets[i]!, b = this.offsets[j]!, buf = this.buf;
    for (const f of END_FIELDS) if (buf.readUInt32LE(a + f) !== buf.readUInt32LE(b + f)) return false;
    return true;
  }

  /** Record `i`'s source (`end` 0) or destination (1) identity. */
  identity(i: number, end: 0 | 1): number {
    return this.buf.readUInt32LE(this.offsets[i]! + (end ? F.dst_identity.offset : F.src_identity.offset));
  }

  /** Record `i`'s source (`end` 0) or destination (1) port. */
  port(i: number, end: 0 | 1): number {
    return this.buf.readUInt16BE(this.offsets[i]! + (end ? F.dport.offset : F.sport.offset));
  }
}

/** Splits a native batch ([u32 len][u32 0][record][pad to 8] ...) into decoded events. */
export function decodeBatch(batch: Buffer): FlowEvent[] {
  return new FlowEventBatch(batch).events();
}

/** Reader options. */
export interface FlowReaderOptions {
  /** Drain period; records submitted without wakeup wait at most this long (default 50 ms). */
  intervalMs?: number;
  /** Upper bound of one batch handed to JavaScript (default 1 MiB), so a flood cannot monopolise the loop. */
  maxBatchBytes?: number;
}

/**
 * Delivers flow records in batches. Flow: the datapath submits without wakeup; a timer drains every
 * intervalMs, and a kernel wakeup (backlog above the configured bytes) drains at once. Each drain is
 * bounded by maxBatchBytes; the rest waits for the next drain. Call close() to stop.
 */
export class FlowBatchReader implements Disposable {
  private readonly reader: NativeRingReader;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Records delivered so far. */
  received = 0;

  /** @param ringFd fd of cilium_events (not owned). */
  constructor(ringFd: number, onBatch: (batch: FlowEventBatch) => void, opts: FlowReaderOptions = {}) {
    this.reader = new (native().RingReader)(ringFd, (batch, count) => {
      this.received += count;
      onBatch(new FlowEventBatch(batch));
    }, opts.maxBatchBytes ?? 1 << 20);
    this.reader.start();
    this.timer = setInterval(() => this.drain(), opts.intervalMs ?? 50);
  }

  /** Drains now; returns records read. */
  drain(): number {
    return this.closed ? 0 : this.reader.consume();
  }

  /** Stops the timer and the poll, frees the reader; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.reader.close();
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A {@link FlowBatchReader} that hands over every batch decoded. */
export class FlowEventReader extends FlowBatchReader {
  /** @param ringFd fd of cilium_events (not owned). */
  constructor(ringFd: number, onEvents: (events: FlowEvent[]) => void, opts: FlowReaderOptions = {}) {
    super(ringFd, (batch) => onEvents(batch.events()), opts);
  }
}
