// A shared informer: a list/watch-fed cache of one resource that notifies handlers of changes.
import type { KubernetesObject } from '@kubernetes/client-node';
import { realClock, sleep, type Clock } from './clock.ts';
import { statusCodeOf } from './api-errors.ts';
import type { ListWatchSource, WatchEvent, WatchHandle } from './list-watch.ts';
import { nopLogger, type Logger } from './logger.ts';
import { ExponentialBackoff } from './rate-limiter.ts';
import { objectKey, resourceVersionOf } from './resource.ts';

/** A change seen by an informer. Handlers should only turn it into queue keys. */
export interface ChangeEvent<T> {
  /** What happened to the object. */
  readonly type: 'added' | 'updated' | 'deleted';
  /** The object now (for `deleted`, its last known state). */
  readonly object: T;
  /** The previous state, for `updated`. */
  readonly old?: T;
}

/** Receives {@link ChangeEvent}s; must not block or throw. */
export type ChangeHandler<T> = (event: ChangeEvent<T>) => void;

/** Read access to a synced cache, shared by controllers and reconcilers. */
export interface CacheReader<T> {
  /** The object with key `namespace/name` (or `name`), if cached. */
  get(key: string): T | undefined;
  /** Every cached object, or those in `namespace` (a snapshot; safe to keep while the cache changes). */
  list(namespace?: string): T[];
  /** Every cached key. */
  keys(): string[];
  /** Whether the first full list has been loaded. */
  hasSynced(): boolean;
  /** Resolves true once synced, or false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean>;
}

/** Options for {@link Informer}. */
export interface InformerOptions {
  /** Name for logs; default 'informer'. */
  name?: string;
  /** Logger; default discards. */
  log?: Logger;
  /** Clock for backoff waits. */
  clock?: Clock;
  /** First retry delay after a failed list/watch; default 500 ms (doubling up to maxBackoffMs). */
  minBackoffMs?: number;
  /** Cap on the retry delay; default 30 s. */
  maxBackoffMs?: number;
}

/** How a watch ended. */
interface WatchOutcome {
  readonly err: unknown;
  /** The API server said our resourceVersion is too old (410 Gone): relist. */
  readonly gone: boolean;
  /** At least one event arrived before the end. */
  readonly progressed: boolean;
  /** How long the watch was open. */
  readonly durationMs: number;
}

/**
 * Keeps an in-memory copy of one resource in sync with the API server.
 *
 * Flow: list → swap the cache atomically → watch from the list's resourceVersion → apply events.
 * - A 410 Gone (HTTP status or ERROR event) triggers an immediate relist.
 * - Any other watch or list failure is retried with exponential backoff, resuming the watch
 *   from the last seen resourceVersion (client-node's ListWatch would stop instead).
 * - A normal end of the watch (server timeout) re-watches at once.
 *
 * Guarantees: readers never see a half-applied relist (the new map replaces the old one in a
 * single assignment, then handlers are told the differences); handlers run after the cache
 * already reflects the change; unchanged objects (same resourceVersion) fire no update.
 */
export class Informer<T extends KubernetesObject> implements CacheReader<T> {
  /** Name used in logs. */
  readonly name: string;
  private store = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff;
  private synced = false;
  private syncWaiters: Array<() => void> = [];

  /** Creates an informer over `source`; nothing happens until {@link start}. */
  constructor(
    private readonly source: ListWatchSource<T>,
    opts: InformerOptions = {},
  ) {
    this.name = opts.name ?? 'informer';
    this.log = (opts.log ?? nopLogger).child({ informer: this.name });
    this.clock = opts.clock ?? realClock;
    this.backoff = new ExponentialBackoff({ baseMs: opts.minBackoffMs ?? 500, maxMs: opts.maxBackoffMs ?? 30_000 });
  }

  /** Registers a handler; it is also replayed an `added` event for every object already cached. */
  addHandler(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
    for (const object of this.store.values()) handler({ type: 'added', object });
  }

  /** {@inheritDoc CacheReader.get} */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  /** {@inheritDoc CacheReader.list} */
  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** {@inheritDoc CacheReader.keys} */
  keys(): string[] {
    return [...this.store.keys()];
  }

  /** {@inheritDoc CacheReader.hasSynced} */
  hasSynced(): boolean {
    return this.synced;
  }

  /** {@inheritDoc CacheReader.waitForSync} */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  /** Runs the list/watch loop until `signal` aborts. Never rejects. */
  async start(signal: AbortSignal): Promise<void> {
    let resourceVersion = '';
    while (!signal.aborted) {
      if (!resourceVersion) {
        try {
          const listing = await this.source.list();
          if (signal.aborted) break;
          this.replace(listing.items);
          resourceVersion = listing.resourceVersion;
          this.backoff.forget('');
        } catch (err) {
          this.log.warn('list failed', { err });
          await sleep(this.clock, this.backoff.when(''), signal);
          continue;
        }
      }
      const cursor = { resourceVersion };
      const outcome = await this.watchOnce(cursor, signal);
      resourceVersion = cursor.resourceVersion;
      if (signal.aborted) break;
      if (outcome.gone) {
        this.log.info('resourceVersion expired, relisting', { resourceVersion });
        resourceVersion = '';
      } else if (outcome.err && !isTimeout(outcome.err)) {
        this.log.warn('watch failed, retrying', { err: outcome.err });
        await sleep(this.clock, this.backoff.when(''), signal);
      } else if (!outcome.progressed && !outcome.err && outcome.durationMs < 1000) {
        // A watch that closes at once without events could otherwise spin.
        await sleep(this.clock, this.backoff.when(''), signal);
      }
    }
  }

  /** Runs one watch until it ends; updates `cursor.resourceVersion` as events arrive. */
  private watchOnce(cursor: { resourceVersion: string }, signal: AbortSignal): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      let gone = false;
      let progressed = false;
      let handle: WatchHandle | undefined;
      let finished = false;
      const started = this.clock.now();
      const onAbort = (): void => handle?.abort();
      const finish = (err: unknown): void => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        resolve({ err, gone: gone || statusCodeOf(err) === 410, progressed, durationMs: this.clock.now() - started });
      };
      const onEvent = (ev: WatchEvent): void => {
        if (finished) return;
        if (ev.type === 'ERROR') {
          if (statusCodeOf(ev.object) === 410) gone = true;
          else this.log.warn('watch error event', { status: ev.object });
          handle?.abort();
          finish(gone ? null : ev.object);
          return;
        }
        progressed = true;
        this.backoff.forget('');
        const rv = resourceVersionOf(ev.object as T);
        if (rv) cursor.resourceVersion = rv;
        this.apply(ev);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.source.watch(cursor.resourceVersion, onEvent, finish).then(
        (h) => {
          handle = h;
          if (finished || signal.aborted) h.abort();
        },
        finish,
      );
    });
  }

  /** Applies one ADDED/MODIFIED/DELETED event to the cache and notifies handlers. */
  private apply(ev: WatchEvent): void {
    const object = ev.object as T;
    const key = objectKey(object);
    const old = this.store.get(key);
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.store.set(key, object);
        if (!old) this.notify({ type: 'added', object });
        else if (resourceVersionOf(old) !== resourceVersionOf(object)) this.notify({ type: 'updated', object, old });
        break;
      case 'DELETED':
        this.store.delete(key);
        this.notify({ type: 'deleted', object: old ?? object });
        break;
      default:
        // BOOKMARK: only advances the resourceVersion.
        break;
    }
  }

  /** Swaps in a freshly listed cache, then notifies handlers of the differences. */
  private replace(items: T[]): void {
    const next = new Map<string, T>();
    for (const item of items) next.set(objectKey(item), item);
    const prev = this.store;
    this.store = next;
    for (const [key, object] of next) {
      const old = prev.get(key);
      if (!old) this.notify({ type: 'added', object });
      else if (resourceVersionOf(old) !== resourceVersionOf(object)) this.notify({ type: 'updated', object, old });
    }
    for (const [key, object] of prev) {
      if (!next.has(key)) this.notify({ type: 'deleted', object });
    }
    if (!this.synced) {
      this.synced = true;
      this.log.debug('synced', { objects: next.size });
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
  }

  private notify(event: ChangeEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.log.error('change handler threw', { err });
      }
    }
  }
}

/** Client-side inactivity timeout of client-node's Watch: reconnect at once. */
function isTimeout(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { name?: unknown }).name === 'TimeoutError';
}
