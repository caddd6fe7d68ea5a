// A manually advanced Clock for deterministic tests of timers and backoff.
import type { Clock, TimerHandle } from '../../runtime/clock.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** A Clock whose time only moves when {@link FakeClock.advance} is called. */
export class FakeClock implements Clock {
  private t: number;
  private timers: Timer[] = [];
  private nextId = 1;

  /** Starts at `start` ms. */
  constructor(start = 1_000_000) {
    this.t = start;
  }

  /** Current fake time. */
  now(): number {
    return this.t;
  }

  /** Schedules `fn` at now + ms. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  /** Cancels a timer. */
  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Delays of pending timers relative to now, sorted. */
  pending(): number[] {
    return this.timers.map((t) => t.at - this.t).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promises settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
