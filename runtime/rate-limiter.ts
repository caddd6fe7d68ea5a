// Per-key retry delays for failed work items.

/** Decides how long a failing key waits before its next attempt. */
export interface RateLimiter {
  /** Records one more failure of `key` and returns the delay (ms) before retrying it. */
  when(key: string): number;
  /** Clears the failure history of `key` (call after a success). */
  forget(key: string): void;
  /** How many failures of `key` have been recorded since the last forget. */
  retries(key: string): number;
}

/** Options for {@link ExponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Delay after the first failure; default 5 ms. */
  baseMs?: number;
  /** Upper bound on any delay; default 5 minutes. */
  maxMs?: number;
}

/**
 * Per-key exponential backoff: the n-th consecutive failure of a key waits
 * `baseMs * 2^(n-1)`, capped at `maxMs`. Keys are independent of each other.
 */
export class ExponentialBackoff implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  /** Creates a limiter with the given base and cap (defaults 5 ms → 5 min). */
  constructor(opts: ExponentialBackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 5;
    this.maxMs = opts.maxMs ?? 5 * 60_000;
  }

  /** {@inheritDoc RateLimiter.when} */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // Guard against overflow for very long failure streaks.
    if (n >= 52) return this.maxMs;
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  /** {@inheritDoc RateLimiter.forget} */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** {@inheritDoc RateLimiter.retries} */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
