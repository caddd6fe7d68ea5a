// A controller: informers feed keys into a work queue drained by N workers calling a Reconciler.
import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { realClock, sleep, type Clock } from './clock.ts';
import { controllerMetrics, type ControllerMetrics, type ReconcileOutcome } from './controller-metrics.ts';
import { keysForChange, mapSelf, type KeyMapper } from './handlers.ts';
import type { CacheReader, Informer } from './informer.ts';
import { nopLogger, type Logger } from './logger.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { isTerminal, requestOf, type Reconciler, type Request, type Result } from './reconcile.ts';
import { WorkQueue } from './workqueue.ts';

/** Decides how to retry a failed reconcile; see {@link ControllerOptions.errorPolicy}. */
export type ErrorPolicy = (req: Request, err: unknown, attempts: number) => Result | undefined;

/** Options for {@link Controller}. */
export interface ControllerOptions {
  /** Controller name: metrics label, queue name and log field. */
  name: string;
  /** The reconcile function's owner. */
  reconciler: Reconciler;
  /** Concurrent workers; default 1. A key is never reconciled by two workers at once. */
  workers?: number;
  /**
   * Re-enqueue every key of the primary cache ({@link Controller.for}) this often, as a backstop
   * for missed changes and drift; 0 or omitted disables it.
   */
  resyncIntervalMs?: number;
  /** Error backoff; default 5 ms → 5 min per key plus an overall 10/s token bucket. */
  rateLimiter?: RateLimiter;
  /**
   * Optional retry policy for retryable errors, a named and testable function: return a Result
   * with `requeueAfterMs` to retry after that delay, or undefined to use the rate limiter.
   * `attempts` counts consecutive failures of this key including this one.
   */
  errorPolicy?: ErrorPolicy;
  /** Clock for delays, backoff and durations. */
  clock?: Clock;
  /** Logger; default discards. */
  log?: Logger;
  /** Metrics registry; omit to record none. */
  registry?: Registry;
  /** Only run on the elected leader (see Manager); default true. */
  needLeaderElection?: boolean;
}

/**
 * Level-triggered controller. Sources (informers) map changes to keys; keys go through a
 * deduplicating {@link WorkQueue}; workers call {@link Reconciler.reconcile} with only the key.
 *
 * Per reconcile:
 * - success → backoff forgotten;
 * - `requeueAfterMs` → backoff forgotten, key re-added after the delay;
 * - thrown error → logged, counted, key re-added with per-key exponential backoff;
 * - thrown {@link TerminalError} → logged, counted, not retried.
 */
export class Controller {
  /** Controller name. */
  readonly name: string;
  /** Whether the Manager should run this only on the leader. */
  readonly needLeaderElection: boolean;
  /** The controller's queue; handlers and tests may add keys directly. */
  readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly workers: number;
  private readonly resyncIntervalMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly errorPolicy: ErrorPolicy | undefined;
  private readonly attempts = new Map<string, number>();
  private readonly caches: CacheReader<unknown>[] = [];
  private primary: CacheReader<unknown> | undefined;

  /** Creates a controller; attach sources with {@link for}/{@link watches}, then {@link start}. */
  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconciler = opts.reconciler;
    this.workers = Math.max(1, opts.workers ?? 1);
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 0;
    this.clock = opts.clock ?? realClock;
    this.log = (opts.log ?? nopLogger).child({ controller: opts.name });
    this.needLeaderElection = opts.needLeaderElection ?? true;
    this.queue = new WorkQueue({ name: opts.name, clock: this.clock, rateLimiter: opts.rateLimiter, registry: opts.registry });
    this.metrics = opts.registry ? controllerMetrics(opts.registry, opts.name) : undefined;
    this.metrics?.maxWorkers(this.workers);
    this.errorPolicy = opts.errorPolicy;
  }

  /** Watches the primary resource: its own key is reconciled, and resync walks its cache. */
  for<T extends KubernetesObject>(informer: Informer<T>): this {
    this.primary = informer as CacheReader<unknown>;
    return this.watches(informer, mapSelf);
  }

  /** Enqueues the keys `mapper` derives from every change seen by `informer`. */
  watches<T extends KubernetesObject>(informer: Informer<T>, mapper: KeyMapper<T>): this {
    this.caches.push(informer as CacheReader<unknown>);
    informer.addHandler((event) => {
      for (const key of keysForChange(event, mapper)) this.queue.add(key);
    });
    return this;
  }

  /**
   * Waits for every watched cache to sync, then runs workers (and the resync loop) until
   * `signal` aborts; then stops the queue and waits for in-flight reconciles to finish.
   */
  async start(signal: AbortSignal): Promise<void> {
    for (const cache of this.caches) {
      if (!(await cache.waitForSync(signal))) break;
    }
    if (!signal.aborted) {
      this.log.info('starting workers', { workers: this.workers });
      const loops = Array.from({ length: this.workers }, () => this.worker(signal));
      if (this.resyncIntervalMs > 0) loops.push(this.resyncLoop(signal));
      const stop = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await stop;
      await this.queue.shutDownWithDrain();
      await Promise.all(loops);
    }
    this.queue.shutDown();
    this.log.info('stopped');
  }

  /** Re-enqueues every key of the primary cache each resync interval. */
  private async resyncLoop(signal: AbortSignal): Promise<void> {
    while (await sleep(this.clock, this.resyncIntervalMs, signal)) {
      for (const key of this.primary?.keys() ?? []) this.queue.add(key);
    }
  }

  /** Schedules a retry of a failed `key`: by the error policy if it decides, else with backoff. */
  private retry(key: string, err: unknown, log: Logger): void {
    const attempts = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempts);
    const decided = this.errorPolicy?.(requestOf(key), err, attempts);
    if (decided?.requeueAfterMs !== undefined) {
      log.error('reconcile failed, retrying per error policy', { err, attempts, requeueAfterMs: decided.requeueAfterMs });
      this.queue.addAfter(key, decided.requeueAfterMs);
      return;
    }
    log.error('reconcile failed, retrying with backoff', { err, attempts });
    this.queue.addRateLimited(key);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.processOne(key, signal);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Runs one reconcile of `key` and applies the retry policy to its outcome. */
  private async processOne(key: string, signal: AbortSignal): Promise<void> {
    const reconcileId = randomUUID();
    const log = this.log.child({ key, reconcileId });
    const started = this.clock.now();
    this.metrics?.activeWorkers(1);
    let outcome: ReconcileOutcome = 'success';
    try {
      const result: Result = (await this.reconciler.reconcile({ signal, log, reconcileId }, requestOf(key))) ?? {};
      this.queue.forget(key);
      this.attempts.delete(key);
      if (result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        outcome = 'requeue_after';
        this.queue.addAfter(key, result.requeueAfterMs);
      }
    } catch (err) {
      outcome = 'error';
      const terminal = isTerminal(err);
      this.metrics?.failed(terminal);
      if (terminal) {
        log.error('reconcile failed terminally, not retrying', { err });
        this.queue.forget(key);
        this.attempts.delete(key);
      } else {
        this.retry(key, err, log);
      }
    } finally {
      this.metrics?.activeWorkers(-1);
      this.metrics?.reconciled(outcome, (this.clock.now() - started) / 1000);
    }
  }
}
