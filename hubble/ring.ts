/**
 * The flows an agent keeps for Hubble: a fixed-size ring (`hubble-event-buffer-capacity`, one less
 * than a power of two as upstream), the newest overwriting the oldest, plus listeners that see each
 * flow as it arrives (followers). Memory is bounded by the capacity whatever the clients do.
 * A flow may be stored deferred: built on each read, so that with no reader a flow costs one small
 * record, or only a slot naming its source and index (a batch of kernel records), instead of a tree
 * of objects that outlives the young generation.
 */
import { timestampMs, type Flow } from './flow-types.ts';

/** Flows built whenever someone reads them: flow `index` of the source, the same flow on every build. */
export interface FlowSource {
  flowAt(index: number): Flow;
}

/**
 * A flow built whenever someone reads it and not kept: only the small record it is built from
 * stays in the ring, so flows handed to listeners (metrics, followers) die young instead of being
 * promoted with the ring. Its uuid, drawn at the first build, is the same on every later one.
 */
export class DeferredFlow implements FlowSource {
  private uuid: string | undefined;

  private constructor(private readonly make: (input: unknown) => Flow, private readonly input: unknown, readonly timeMs: number) {}

  /**
   * A flow `make` builds from `input`, what was known when it was observed (no closure per flow);
   * `timeMs` is the time the flow will carry, known without building it.
   */
  static of<A>(make: (input: A) => Flow, input: A, timeMs: number): DeferredFlow {
    return new DeferredFlow(make as (input: unknown) => Flow, input, timeMs);
  }

  /** The flow, built now. */
  get flow(): Flow {
    const flow = this.make(this.input);
    if (this.uuid === undefined) this.uuid = flow.uuid;
    else flow.uuid = this.uuid;
    return flow;
  }

  /** Same as {@link DeferredFlow.flow}. */
  flowAt(): Flow {
    return this.flow;
  }
}

/** What the ring is given: a flow, or one to be built when read. */
export type RingEntry = Flow | DeferredFlow;

/** What a slot holds: a flow, or the source that builds it (with the slot's index into it). */
type Slot = Flow | FlowSource;

function isSource(s: Slot): s is FlowSource {
  return typeof (s as Partial<FlowSource>).flowAt === 'function';
}

/** Upstream's default `hubble-event-buffer-capacity`. */
export const DEFAULT_RING_CAPACITY = 4095;

/** Whether `n` is a valid capacity: 2^k - 1 for k in 1..16. */
export function isValidRingCapacity(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535 && ((n + 1) & n) === 0;
}

/** A bounded ring of flows with live listeners. */
export class FlowRing {
  private readonly slots: (Slot | undefined)[];
  /** Each slot's index into its source. */
  private readonly indexes: Int32Array;
  /** Each slot's flow time (ms), so that time questions build no flow. */
  private readonly times: Float64Array;
  private next = 0;
  private readonly listeners = new Set<(f: Flow) => void>();
  /** Flows added since start (including those overwritten since). */
  seen = 0;

  /** @param capacity how many flows are kept. */
  constructor(readonly capacity: number = DEFAULT_RING_CAPACITY) {
    this.slots = new Array<Slot | undefined>(capacity);
    this.indexes = new Int32Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /** Flows held now. */
  get size(): number {
    return Math.min(this.seen, this.capacity);
  }

  /** Adds a flow and hands it to every listener (a deferred flow is built only when someone listens). */
  push(entry: RingEntry): void {
    this.store(entry, 0, entry instanceof DeferredFlow ? entry.timeMs : timestampMs(entry.time));
  }

  /** Adds flow `index` of `source`, of time `timeMs`, built only when someone listens or reads it. */
  pushFrom(source: FlowSource, index: number, timeMs: number): void {
    this.store(source, index, timeMs);
  }

  private store(slot: Slot, index: number, timeMs: number): void {
    const at = this.next;
    this.slots[at] = slot;
    this.indexes[at] = index;
    this.times[at] = timeMs;
    this.next = (at + 1) % this.capacity;
    this.seen++;
    if (this.listeners.size === 0) return;
    const flow = this.flowIn(at);
    for (const l of this.listeners) l(flow);
  }

  private flowIn(at: number): Flow {
    const slot = this.slots[at]!;
    return isSource(slot) ? slot.flowAt(this.indexes[at]!) : slot;
  }

  /** The flows held, built one at a time as the caller goes: oldest first, or newest first. */
  *flows(order: 'oldest' | 'newest'): Generator<Flow> {
    const n = this.size;
    const start = (this.next - n + this.capacity) % this.capacity;
    for (let i = 0; i < n; i++) {
      const k = order === 'oldest' ? i : n - 1 - i;
      yield this.flowIn((start + k) % this.capacity);
    }
  }

  /** The flows held, oldest first. */
  snapshot(): Flow[] {
    return [...this.flows('oldest')];
  }

  /** How many of the flows held are from `sinceMs` or later (no flow is built). */
  countSince(sinceMs: number): number {
    let count = 0;
    for (let i = 0; i < this.size; i++) if (this.times[i]! >= sinceMs) count++;
    return count;
  }

  /** Calls `listener` with every flow added from now on, until the returned function is called. */
  listen(listener: (f: Flow) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
