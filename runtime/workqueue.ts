// A key-only, deduplicating, rate-limited work queue: the heart of level-triggered controllers.
import type { Registry } from 'prom-client';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { defaultRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { noWorkQueueMetrics, workQueueMetrics, type WorkQueueMetrics } from './workqueue-metrics.ts';

/** Options for {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Queue name, used as the `name` label of the workqueue_* metrics. */
  name: string;
  /** Time source for delays and metrics; default the real clock. */
  clock?: Clock;
  /** Retry policy for {@link WorkQueue.addRateLimited}; default {@link defaultRateLimiter} on `clock`. */
  rateLimiter?: RateLimiter;
  /** Registry for metrics; omit to record none. */
  registry?: Registry;
}

/**
 * A FIFO of string keys with controller semantics.
 *
 * Guarantees:
 * - **Fair**: keys are handed out in the order they were first added.
 * - **Stingy**: a key added N times before a worker picks it up is handed out once.
 * - **Serial per key**: a key is never handed to two workers at once. If it is added while a
 *   worker holds it, it is handed out once more after that worker calls {@link done}.
 * - Delayed adds ({@link addAfter}) for the same key collapse to the earliest deadline.
 *
 * Caveats: every {@link get} must be paired with a {@link done}, even on failure.
 */
export class WorkQueue {
  /** Queue name (metrics label). */
  readonly name: string;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly metrics: WorkQueueMetrics;
  private queue: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly getters: Array<(key: string | undefined) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private stopped = false;

  /** Creates an empty queue. */
  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? realClock;
    this.limiter = opts.rateLimiter ?? defaultRateLimiter(() => this.clock.now());
    this.metrics = opts.registry ? workQueueMetrics(opts.registry, opts.name) : noWorkQueueMetrics;
  }

  /** Marks `key` as needing work. A no-op if it is already pending or the queue is shut down. */
  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.metrics.added();
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds `key` after `delayMs`. An earlier pending deadline for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.timer);
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, timer });
  }

  /** Re-adds a failed `key` after its rate limiter's backoff delay. */
  addRateLimited(key: string): void {
    if (this.stopped) return;
    this.metrics.retried();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Resets the backoff of `key`; call when it was processed successfully. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** Failures recorded for `key` since it was last forgotten. */
  numRequeues(key: string): number {
    return this.limiter.retries(key);
  }

  /**
   * Waits for the next key and marks it as being processed. Resolves `undefined` once the
   * queue is shut down; callers then exit their worker loop.
   */
  get(): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends processing of `key`; if it was re-added meanwhile it is queued again. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics.worked((this.clock.now() - started) / 1000);
    if (this.dirty.has(key) && !this.stopped) this.enqueue(key);
    if (this.processing.size === 0) this.releaseDrainWaiters();
  }

  /** Number of keys waiting to be handed out (not counting delayed or in-flight ones). */
  len(): number {
    return this.queue.length;
  }

  /** Whether {@link shutDown} has been called. */
  get shuttingDown(): boolean {
    return this.stopped;
  }

  /**
   * Stops the queue: later adds are ignored, pending delayed adds are cancelled, queued keys are
   * dropped and every waiting or future {@link get} resolves `undefined`. Level-triggered
   * controllers lose nothing by this: the next start relists and re-enqueues everything.
   */
  shutDown(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const { timer } of this.delayed.values()) this.clock.clearTimeout(timer);
    this.delayed.clear();
    this.queue = [];
    this.dirty.clear();
    this.addedAt.clear();
    this.metrics.depth(0);
    for (const resolve of this.getters.splice(0)) resolve(undefined);
    if (this.processing.size === 0) this.releaseDrainWaiters();
  }

  /** {@link shutDown}, then waits until every key currently being processed is {@link done}. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private enqueue(key: string): void {
    const getter = this.getters.shift();
    if (getter) {
      getter(this.take(key));
      return;
    }
    this.queue.push(key);
    this.metrics.depth(this.queue.length);
  }

  private take(key: string): string {
    const now = this.clock.now();
    this.metrics.depth(this.queue.length);
    this.metrics.queued((now - (this.addedAt.get(key) ?? now)) / 1000);
    this.addedAt.delete(key);
    this.dirty.delete(key);
    this.processing.set(key, now);
    return key;
  }

  private releaseDrainWaiters(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
