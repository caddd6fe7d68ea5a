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

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Sustained rate in items per second; default 10. */
  perSecond?: number;
  /** Burst size; default 100. */
  burst?: number;
  /** Time source (ms); default Date.now. */
  now?: () => number;
}

/**
 * An overall rate limit shared by all keys: each `when` takes a token and returns how long to
 * wait until that token is available. Protects the API server when many keys fail at once.
 */
export class TokenBucket implements RateLimiter {
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  /** Creates a full bucket. */
  constructor(opts: TokenBucketOptions = {}) {
    this.perMs = (opts.perSecond ?? 10) / 1000;
    this.burst = opts.burst ?? 100;
    this.now = opts.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** {@inheritDoc RateLimiter.when} */
  when(_key: string): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }

  /** Buckets keep no per-key state. */
  forget(_key: string): void {}

  /** Buckets keep no per-key state. */
  retries(_key: string): number {
    return 0;
  }
}

/** Combines limiters: the delay is the longest any of them asks for. */
export class MaxOf implements RateLimiter {
  private readonly limiters: RateLimiter[];

  /** Combines `limiters` (the first one's retry count is reported). */
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  /** {@inheritDoc RateLimiter.when} */
  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  /** {@inheritDoc RateLimiter.forget} */
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  /** {@inheritDoc RateLimiter.retries} */
  retries(key: string): number {
    return this.limiters[0]?.retries(key) ?? 0;
  }
}

/**
 * The default controller limiter: per-key exponential backoff (5 ms → 5 min) combined with an
 * overall 10/s, burst 100 token bucket.
 */
export function defaultRateLimiter(now: () => number = Date.now): RateLimiter {
  return new MaxOf(new ExponentialBackoff(), new TokenBucket({ now }));
}
