/**
 * Ordered writes to a server stream that respect its flow control, with a bound on what waits.
 */

/** Most responses queued for one follower before flows are dropped for it. */
export const FOLLOW_QUEUE_MAX = 1024;

type Message = Record<string, unknown>;

/** The part of a gRPC server stream the writer uses. */
export interface WritableCall {
  write(msg: Message): boolean;
  end(): void;
  once(event: 'drain', cb: () => void): unknown;
  on(event: 'cancelled' | 'close', cb: () => void): unknown;
}

/**
 * Writes responses in order, waiting for `drain` when the transport is full. Droppable responses
 * (followed flows) beyond `max` queued are counted in `lost` instead; the next one
 * sent is preceded by a report of them.
 */
export class StreamWriter {
  private readonly queue: Message[] = [];
  private waiting = false;
  private ending = false;
  private closed = false;
  /** Responses dropped since the last loss report. */
  lost = 0;

  /**
   * @param call the stream written to (anything with write/end/once('drain')/on('cancelled'|'close')).
   * @param onDrop called for each droppable response dropped.
   */
  constructor(private readonly call: WritableCall, private readonly max = FOLLOW_QUEUE_MAX, private readonly onDrop?: () => void) {
    call.on('cancelled', () => (this.closed = true));
    call.on('close', () => (this.closed = true));
  }

  /** Queues a response; a droppable one is dropped while the queue is full. */
  send(msg: Message, droppable: boolean, lossReport?: () => Message): void {
    if (this.closed || this.ending) return;
    if (droppable && this.queue.length >= this.max) {
      this.lost++;
      this.onDrop?.();
      return;
    }
    if (this.lost > 0 && lossReport) {
      this.queue.push(lossReport());
      this.lost = 0;
    }
    this.queue.push(msg);
    this.pump();
  }

  /** Ends the stream once everything queued is written. */
  finish(): void {
    this.ending = true;
    this.pump();
  }

  private pump(): void {
    while (!this.waiting && !this.closed && this.queue.length > 0) {
      if (!this.call.write(this.queue.shift()!)) {
        this.waiting = true;
        this.call.once('drain', () => {
          this.waiting = false;
          this.pump();
        });
      }
    }
    if (this.ending && this.queue.length === 0 && !this.waiting && !this.closed) {
      this.closed = true;
      this.call.end();
    }
  }
}
