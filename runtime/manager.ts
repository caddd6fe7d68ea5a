// The Manager: starts caches, waits for them to sync, then runs controllers and other runnables.
import { setMaxListeners } from 'node:events';
import type { LeaderCallbacks } from './leader-election.ts';
import { nopLogger, type Logger } from './logger.ts';

/** Anything the Manager runs: `start` works until `signal` aborts, then resolves. */
export interface Runnable {
  /** Runs until `signal` aborts; rejecting stops the whole Manager with that error. */
  start(signal: AbortSignal): Promise<void>;
  /** If true, runs only while this process is the elected leader. */
  readonly needLeaderElection?: boolean;
}

/** A runnable cache: started first, and waited on before anything else starts. */
export interface SyncingRunnable extends Runnable {
  /** Resolves true once the cache holds a full listing, false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean>;
}

/** Something that can run a leader election (see LeaderElector). */
export interface Elector {
  /** Competes for leadership until `signal` aborts or leadership is lost. */
  run(signal: AbortSignal): Promise<void>;
}

/** Options for {@link Manager}. */
export interface ManagerOptions {
  /** Logger; default discards. */
  log?: Logger;
  /**
   * Builds the elector given the Manager's callbacks; omit to run leader-only runnables
   * unconditionally (single replica, tests). E.g.
   * `(cb) => new LeaderElector({ ... }, cb)`.
   */
  leaderElection?: (callbacks: LeaderCallbacks) => Elector;
  /** How long stopping runnables may take before {@link Manager.start} gives up; default 30 s. */
  gracefulShutdownTimeoutMs?: number;
}

/** Thrown by {@link Manager.start} when runnables did not stop within the grace period. */
export class ShutdownTimeoutError extends Error {
  /** Creates the error for a grace period of `ms`. */
  constructor(ms: number) {
    super(`runnables did not stop within ${ms} ms`);
    this.name = 'ShutdownTimeoutError';
  }
}

/** Thrown by {@link Manager.start} when leadership is lost while running. */
export class LeaderElectionLostError extends Error {
  /** Creates the error. */
  constructor() {
    super('leader election lost');
    this.name = 'LeaderElectionLostError';
  }
}

/**
 * Owns the lifecycle of a process's runnables.
 *
 * Order: caches start → all caches synced → non-leader runnables start → leader election (if
 * configured) → leader-only runnables start once leading. On abort of the start signal every
 * runnable is stopped and awaited. If any runnable rejects, or leadership is lost, everything
 * is stopped and {@link start} rejects, so the process can exit and restart cleanly (a lost
 * leader must not keep acting on stale assumptions).
 */
export class Manager {
  private readonly caches: SyncingRunnable[] = [];
  private readonly runnables: Runnable[] = [];
  private readonly log: Logger;

  /** Creates an empty manager. */
  constructor(private readonly opts: ManagerOptions = {}) {
    this.log = (opts.log ?? nopLogger).child({ component: 'manager' });
  }

  /** Registers a cache (an Informer): started before, and synced before, everything else. */
  addCache(cache: SyncingRunnable): this {
    this.caches.push(cache);
    return this;
  }

  /** Registers a runnable (a Controller, a server, ...). */
  add(runnable: Runnable): this {
    this.runnables.push(runnable);
    return this;
  }

  /** Runs everything until `signal` aborts; resolves after a graceful stop. */
  async start(signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    // Every cache, controller and worker listens on this one signal.
    setMaxListeners(0, stop.signal);
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) stop.abort();
    const running: Promise<void>[] = [];
    let failure: unknown;
    const run = (r: Runnable, s: AbortSignal): void => {
      running.push(
        r.start(s).catch((err: unknown) => {
          this.log.error('runnable failed, stopping', { err });
          failure ??= err;
          stop.abort();
        }),
      );
    };
    try {
      for (const cache of this.caches) run(cache, stop.signal);
      for (const cache of this.caches) {
        if (!(await cache.waitForSync(stop.signal))) break;
      }
      if (!stop.signal.aborted) {
        this.log.info('caches synced');
        for (const r of this.runnables) if (!r.needLeaderElection) run(r, stop.signal);
        this.startLeaderOnly(stop, run, (err) => (failure ??= err));
      }
      await new Promise<void>((resolve) =>
        stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      if (!(await this.settle(running))) failure ??= new ShutdownTimeoutError(this.graceMs);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    this.log.info('stopped');
    if (failure !== undefined) throw failure;
  }

  private get graceMs(): number {
    return this.opts.gracefulShutdownTimeoutMs ?? 30_000;
  }

  /** Waits for every runnable (including ones started meanwhile); false if the grace period ends first. */
  private async settle(running: Promise<void>[]): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.graceMs);
      timer.unref();
    });
    const all = (async () => {
      for (let settled = 0; settled < running.length; ) {
        const batch = running.slice(settled);
        settled = running.length;
        await Promise.all(batch);
      }
      return true as const;
    })();
    try {
      const ok = await Promise.race([all, timeout]);
      if (!ok) this.log.error('runnables did not stop within the grace period', { graceMs: this.graceMs });
      return ok;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts leader-only runnables directly, or under the configured leader election. */
  private startLeaderOnly(stop: AbortController, run: (r: Runnable, s: AbortSignal) => void, fail: (err: unknown) => void): void {
    const leaderOnly = this.runnables.filter((r) => r.needLeaderElection);
    if (!this.opts.leaderElection) {
      for (const r of leaderOnly) run(r, stop.signal);
      return;
    }
    const elector = this.opts.leaderElection({
      onStartedLeading: (leading) => {
        this.log.info('started leading');
        for (const r of leaderOnly) run(r, leading);
      },
      onStoppedLeading: () => {
        if (stop.signal.aborted) return;
        this.log.error('leadership lost, stopping');
        fail(new LeaderElectionLostError());
        stop.abort();
      },
    });
    run({ start: (s) => elector.run(s) }, stop.signal);
  }
}
