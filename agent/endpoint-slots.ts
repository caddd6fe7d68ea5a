/**
 * Spare endpoint slots: endpoint ids whose own maps are already created, pinned and registered with
 * the node's shared programs, so that a CNI ADD only binds an interface to one. Registering maps in
 * the shared programs' outer maps waits for an RCU grace period per map (tens of ms for a slot), work
 * that would otherwise sit between pod creation and ADD returning. The pool refills itself in the
 * background, one slot at a time (on a worker thread when a `prepare` is given, else one per
 * event-loop turn), and falls back to making a slot on the spot when empty.
 */
import type { EndpointOwnMapsOf } from '../datapath/loader.ts';
import type { Logger } from '../runtime/logger.ts';

/** An endpoint id with its maps ready for the shared programs. */
export interface EndpointSlot {
  /** The allocator key holding the id while the slot is spare. */
  spareKey: string;
  id: number;
  maps: EndpointOwnMapsOf;
}

/** Prefix of spare keys: `#` never starts a CNI container id, so they cannot meet an endpoint's key. */
export const SPARE_KEY_PREFIX = '#spare-';

/** Whether an endpoint-id allocator key belongs to a spare slot. */
export function isSpareKey(key: string): boolean {
  return key.startsWith(SPARE_KEY_PREFIX);
}

/** How the pool makes and forgets slots. */
export interface SlotPoolOptions {
  /** Spare slots to keep ready. */
  size: number;
  /** Makes one slot now (allocates an id under a fresh spare key, creates and registers its maps). */
  make(): EndpointSlot;
  /** Makes one slot without blocking the event loop (refills use it when given). */
  prepare?(): Promise<EndpointSlot>;
  /** Lets go of a slot finished after close() (its fds; its pins stay for the next agent). */
  release?(slot: EndpointSlot): void;
  log: Logger;
}

/** A pool of spare endpoint slots. */
export class EndpointSlotPool {
  readonly #ready: EndpointSlot[] = [];
  #busy = false;
  #closed = false;

  constructor(private readonly o: SlotPoolOptions) {}

  /** Slots ready now. */
  get spare(): number {
    return this.#ready.length;
  }

  /** Endpoint ids of the slots ready now. */
  ids(): number[] {
    return this.#ready.map((s) => s.id);
  }

  /** Adds a slot left by an earlier agent (its maps reopened from the pins). */
  adopt(slot: EndpointSlot): void {
    this.#ready.push(slot);
  }

  /** A ready slot, or one made now when none is; starts refilling in the background. */
  take(): EndpointSlot {
    const slot = this.#ready.shift() ?? this.o.make();
    this.refill();
    return slot;
  }

  /** Makes spare slots, one at a time, until `size` are ready. */
  refill(): void {
    if (this.#busy || this.#closed || this.#ready.length >= this.o.size) return;
    this.#busy = true;
    const next = this.o.prepare ? this.o.prepare() : new Promise<EndpointSlot>((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(this.o.make());
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    next.then((slot) => {
      this.#busy = false;
      if (this.#closed) return this.o.release?.(slot);
      this.#ready.push(slot);
      this.refill();
    }, (err: unknown) => {
      // Not fatal: take() makes slots on the spot; the next take() retries the refill.
      this.#busy = false;
      this.o.log.warn('could not prepare a spare endpoint slot', { err: (err as Error).message });
    });
  }

  /** Stops refilling and hands back the spare slots (their pins stay for the next agent). */
  close(): EndpointSlot[] {
    this.#closed = true;
    return this.#ready.splice(0);
  }
}
