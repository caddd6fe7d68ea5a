// Leader-only work that runs every interval over synced caches (garbage collection).
import { sleep, TokenBucket, type Clock, type Logger, type Runnable } from '../runtime/index.ts';

/** Runs `run` now and then every `intervalMs` until stopped; a failed run is logged and retried next time. */
export function periodic(name: string, intervalMs: number, clock: Clock, log: Logger, run: (signal: AbortSignal) => Promise<void>): Runnable {
  return {
    needLeaderElection: true,
    async start(signal) {
      if (intervalMs <= 0) return;
      do {
        try {
          await run(signal);
        } catch (err) {
          log.error(`${name} run failed`, { err });
        }
      } while (await sleep(clock, intervalMs, signal));
    },
  };
}

/** At most `limit` operations per `intervalMs` (a full bucket to start with); {@link take} waits for a token. */
export class RateBudget {
  private readonly bucket: TokenBucket;

  /** Creates a budget of `limit` per `intervalMs`. */
  constructor(
    limit: number,
    intervalMs: number,
    private readonly clock: Clock,
  ) {
    this.bucket = new TokenBucket({ perSecond: (limit * 1000) / Math.max(1, intervalMs), burst: limit, now: () => clock.now() });
  }

  /** Resolves once an operation may proceed; false if `signal` aborted while waiting. */
  async take(signal: AbortSignal): Promise<boolean> {
    const wait = this.bucket.when('');
    return wait <= 0 ? !signal.aborted : sleep(this.clock, wait, signal);
  }
}
