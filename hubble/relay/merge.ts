/**
 * Time-ordered merging of the peers' GetFlows streams. Each peer sends its responses in time
 * order, so the merge emits the oldest buffered response whenever every open stream has one
 * buffered (an exact merge). When following, a quiet peer must not hold the others back: as
 * upstream's sort buffer does, the oldest response also goes out once `sortBufferLenMax` responses
 * wait or it has waited `drainTimeoutMs`. Memory stays bounded: a stream with `perSourceMax`
 * responses buffered is paused until the merge drains it, and the merge itself stops while its
 * consumer is blocked.
 */
import type { Timestamp } from '../flow-types.ts';

/** A response with the time it is ordered by. */
export interface Timed {
  time?: Timestamp;
}

/** One input of a merge: what the peer stream's handlers call. */
export interface MergeSource<T extends Timed> {
  /** Buffers a response from the stream. */
  push(item: T): void;
  /** The stream ended (or failed): nothing more comes from it. */
  end(): void;
}

/** How a merge behaves. */
export interface MergeOptions<T> {
  /** Following: emit on the sort buffer's bound and drain timeout too, not only when every stream has spoken. */
  follow: boolean;
  sortBufferLenMax: number;
  drainTimeoutMs: number;
  /** Responses buffered per stream before it is paused. */
  perSourceMax?: number;
  /** Writes a response out; false: the consumer is full, call {@link TimeMerge.resume} when it drains. */
  emit(item: T): boolean;
  /** Every source ended and everything was emitted (after {@link TimeMerge.seal}). */
  done(): void;
  now?: () => number;
}

interface Source<T> {
  queue: { item: T; at: number; seq: number }[];
  ended: boolean;
  paused: boolean;
  pause: () => void;
  resume: () => void;
}

/** Orders two timestamps (a missing one sorts first). */
export function compareTime(a: Timestamp | undefined, b: Timestamp | undefined): number {
  return (a?.seconds ?? 0) - (b?.seconds ?? 0) || (a?.nanos ?? 0) - (b?.nanos ?? 0);
}

/** Merges any number of time-ordered streams into one. */
export class TimeMerge<T extends Timed> {
  private readonly sources = new Set<Source<T>>();
  private readonly now: () => number;
  private readonly perSourceMax: number;
  private seq = 0;
  private buffered = 0;
  private blocked = false;
  private sealed = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;

  /** @param o emit/done callbacks and the sort buffer's settings. */
  constructor(private readonly o: MergeOptions<T>) {
    this.now = o.now ?? Date.now;
    this.perSourceMax = o.perSourceMax ?? 256;
  }

  /** Adds a stream; `pause`/`resume` throttle it while too much of it waits. */
  add(pause: () => void = () => undefined, resume: () => void = () => undefined): MergeSource<T> {
    const s: Source<T> = { queue: [], ended: false, paused: false, pause, resume };
    this.sources.add(s);
    return {
      push: (item) => {
        if (s.ended || this.finished) return;
        s.queue.push({ item, at: this.now(), seq: this.seq++ });
        this.buffered++;
        if (!s.paused && s.queue.length >= this.perSourceMax) {
          s.paused = true;
          s.pause();
        }
        this.pump();
      },
      end: () => {
        if (s.ended) return;
        s.ended = true;
        this.pump();
      },
    };
  }

  /** No more streams will be added: the merge is done once every stream ended and drained. */
  seal(): void {
    this.sealed = true;
    this.pump();
  }

  /** The consumer can take more. */
  resume(): void {
    this.blocked = false;
    this.pump();
  }

  /** Stops: drops what is buffered and emits nothing more. */
  close(): void {
    this.finished = true;
    clearTimeout(this.timer);
    for (const s of this.sources) s.queue.length = 0;
    this.sources.clear();
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (!this.blocked && !this.finished) {
      let head: Source<T> | undefined;
      let waiting = false;
      for (const s of this.sources) {
        const first = s.queue[0];
        if (!first) {
          if (!s.ended) waiting = true;
          continue;
        }
        const h = head?.queue[0];
        if (!h || compareTime(first.item.time, h.item.time) < 0 || (compareTime(first.item.time, h.item.time) === 0 && first.seq < h.seq)) head = s;
      }
      if (!head) {
        if (this.sealed && !waiting) {
          this.finished = true;
          this.o.done();
        }
        return;
      }
      const oldest = head.queue[0]!;
      const due = oldest.at + this.o.drainTimeoutMs;
      if (waiting && !(this.o.follow && (this.buffered >= this.o.sortBufferLenMax || due <= this.now()))) {
        if (this.o.follow) this.timer = setTimeout(() => this.pump(), Math.max(0, due - this.now()));
        return;
      }
      head.queue.shift();
      this.buffered--;
      if (head.paused && head.queue.length <= this.perSourceMax / 2) {
        head.paused = false;
        head.resume();
      }
      if (head.ended && head.queue.length === 0) this.sources.delete(head);
      if (!this.o.emit(oldest.item)) this.blocked = true;
    }
  }
}
