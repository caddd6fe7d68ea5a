/**
 * The flows an agent keeps for Hubble: a fixed-size ring (`hubble-event-buffer-capacity`, one less
 * than a power of two as upstream), the newest overwriting the oldest, plus listeners that see each
 * flow as it arrives (followers). Memory is bounded by the capacity whatever the clients do.
 */
import type { Flow } from './flow-types.ts';

/** Upstream's default `hubble-event-buffer-capacity`. */
export const DEFAULT_RING_CAPACITY = 4095;

/** Whether `n` is a valid capacity: 2^k - 1 for k in 1..16. */
export function isValidRingCapacity(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535 && ((n + 1) & n) === 0;
}

/** A bounded ring of flows with live listeners. */
export class FlowRing {
  private readonly slots: (Flow | undefined)[];
  private next = 0;
  private readonly listeners = new Set<(f: Flow) => void>();
  /** Flows added since start (including those overwritten since). */
  seen = 0;

  /** @param capacity how many flows are kept. */
  constructor(readonly capacity: number = DEFAULT_RING_CAPACITY) {
    this.slots = new Array<Flow | undefined>(capacity);
  }

  /** Flows held now. */
  get size(): number {
    return Math.min(this.seen, this.capacity);
  }

  /** Adds a flow and hands it to every listener. */
  push(flow: Flow): void {
    this.slots[this.next] = flow;
    this.next = (this.next + 1) % this.capacity;
    this.seen++;
    for (const l of this.listeners) l(flow);
  }

  /** The flows held, oldest first. */
  snapshot(): Flow[] {
    const n = this.size;
    const start = (this.next - n + this.capacity) % this.capacity;
    const out: Flow[] = [];
    for (let i = 0; i < n; i++) out.push(this.slots[(start + i) % this.capacity]!);
    return out;
  }

  /** Calls `listener` with every flow added from now on, until the returned function is called. */
  listen(listener: (f: Flow) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
