/**
 * The node's FQDN cache: which addresses DNS answers gave each name, and until when. Every A/AAAA
 * record the DNS proxy relays extends its (name, address) pair to the record's TTL, raised to
 * `tofqdns-min-ttl` (upstream's default 0: the server's TTL as is). A pair lives until its expiry
 * plus the grace period (`tofqdns-idle-connection-grace-period`, default 0) has passed at a
 * garbage collection; at most `tofqdns-endpoint-max-ip-per-hostname` addresses are kept per name
 * (those expiring last). Pure: the caller passes the time.
 */
import { normalizeDnsName } from '../policy/fqdn.ts';

/** Settings, as upstream's agent options. */
export interface FqdnCacheOptions {
  /** `tofqdns-min-ttl` in seconds (0: the answer's TTL). */
  readonly minTtlSeconds?: number;
  /** `tofqdns-idle-connection-grace-period` in seconds. */
  readonly graceSeconds?: number;
  /** `tofqdns-endpoint-max-ip-per-hostname`. */
  readonly maxIpsPerName?: number;
}

/** Upstream's default `tofqdns-endpoint-max-ip-per-hostname`. */
export const DEFAULT_MAX_IPS_PER_NAME = 1000;

/** One cached (name, address) pair. */
export interface FqdnCacheEntry {
  readonly name: string;
  readonly ip: string;
  /** When the answer's TTL (raised to the minimum) runs out, ms since the epoch. */
  readonly expiresMs: number;
}

/** Names → addresses with expiry. */
export class FqdnCache {
  /** name → ip → expiry (ms). */
  readonly #byName = new Map<string, Map<string, number>>();
  readonly #minTtlMs: number;
  readonly #graceMs: number;
  readonly #maxIps: number;

  constructor(opts: FqdnCacheOptions = {}) {
    this.#minTtlMs = (opts.minTtlSeconds ?? 0) * 1000;
    this.#graceMs = (opts.graceSeconds ?? 0) * 1000;
    this.#maxIps = opts.maxIpsPerName ?? DEFAULT_MAX_IPS_PER_NAME;
  }

  /**
   * Records an answer's addresses for `name` with their TTLs (seconds), received at `nowMs`;
   * true when the set of pairs changed (an address came, or one beyond the cap went).
   */
  update(name: string, records: readonly { ip: string; ttl: number }[], nowMs: number): boolean {
    const ips = this.#ipsOf(name);
    const before = new Set(ips.keys());
    for (const { ip, ttl } of records) this.#put(ips, ip, nowMs + Math.max(ttl * 1000, this.#minTtlMs));
    return ips.size !== before.size || [...ips.keys()].some((ip) => !before.has(ip));
  }

  /**
   * Puts back pairs saved earlier (e.g. before an agent restart) with their expiry, except those
   * already collectable at `nowMs`.
   */
  restore(entries: Iterable<FqdnCacheEntry>, nowMs: number): void {
    for (const { name, ip, expiresMs } of entries) {
      if (expiresMs + this.#graceMs > nowMs) this.#put(this.#ipsOf(name), ip, expiresMs);
    }
  }

  /** Drops the pairs whose expiry plus the grace period is at or before `nowMs`. */
  gc(nowMs: number): FqdnCacheEntry[] {
    const removed: FqdnCacheEntry[] = [];
    for (const [name, ips] of this.#byName) {
      for (const [ip, expiresMs] of ips) {
        if (expiresMs + this.#graceMs > nowMs) continue;
        ips.delete(ip);
        removed.push({ name, ip, expiresMs });
      }
      if (ips.size === 0) this.#byName.delete(name);
    }
    return removed;
  }

  /** Every pair held. */
  entries(): FqdnCacheEntry[] {
    return [...this.#byName].flatMap(([name, ips]) => [...ips].map(([ip, expiresMs]) => ({ name, ip, expiresMs })));
  }

  /** The addresses held for a name. */
  lookup(name: string): string[] {
    return [...(this.#byName.get(normalizeDnsName(name))?.keys() ?? [])];
  }

  /** The next time a pair becomes collectable (ms), if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const ips of this.#byName.values()) for (const e of ips.values()) if (next === undefined || e < next) next = e;
    return next === undefined ? undefined : next + this.#graceMs;
  }

  #ipsOf(name: string): Map<string, number> {
    const key = normalizeDnsName(name);
    let ips = this.#byName.get(key);
    if (!ips) this.#byName.set(key, (ips = new Map()));
    return ips;
  }

  /** Extends an address's expiry (never shortens it), then applies the cap. */
  #put(ips: Map<string, number>, ip: string, expiresMs: number): void {
    if (expiresMs > (ips.get(ip) ?? -Infinity)) ips.set(ip, expiresMs);
    this.#trim(ips);
  }

  /** Keeps the `maxIps` addresses of a name that expire last. */
  #trim(ips: Map<string, number>): void {
    if (ips.size <= this.#maxIps) return;
    for (const [ip] of [...ips].sort((a, b) => a[1] - b[1]).slice(0, ips.size - this.#maxIps)) ips.delete(ip);
  }
}
