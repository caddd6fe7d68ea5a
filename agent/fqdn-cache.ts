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

const NO_NAMES: readonly string[] = [];

/** Names → addresses with expiry. */
export class FqdnCache {
  /** name → ip → expiry (ms). */
  readonly #byName = new Map<string, Map<string, number>>();
  /** ip → names (the reverse index, for flows' source and destination names). */
  readonly #byIp = new Map<string, Set<string>>();
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
    const key = normalizeDnsName(name);
    const ips = this.#ipsOf(key);
    const before = new Set(ips.keys());
    for (const { ip, ttl } of records) this.#put(key, ip, nowMs + Math.max(ttl * 1000, this.#minTtlMs));
    return ips.size !== before.size || [...ips.keys()].some((ip) => !before.has(ip));
  }

  /**
   * Puts back pairs saved earlier (e.g. before an agent restart) with their expiry, except those
   * already collectable at `nowMs`.
   */
  restore(entries: Iterable<FqdnCacheEntry>, nowMs: number): void {
    for (const { name, ip, expiresMs } of entries) {
      if (expiresMs + this.#graceMs > nowMs) this.#put(normalizeDnsName(name), ip, expiresMs);
    }
  }

  /** Drops the pairs whose expiry plus the grace period is at or before `nowMs`. */
  gc(nowMs: number): FqdnCacheEntry[] {
    const removed: FqdnCacheEntry[] = [];
    for (const [name, ips] of this.#byName) {
      for (const [ip, expiresMs] of ips) {
        if (expiresMs + this.#graceMs > nowMs) continue;
        this.#drop(name, ips, ip);
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

  /** The names an address is held for (lower case, final dot); no allocation when none. */
  namesOf(ip: string): readonly string[] {
    const names = this.#byIp.get(ip);
    return names ? [...names] : NO_NAMES;
  }

  /** The next time a pair becomes collectable (ms), if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const ips of this.#byName.values()) for (const e of ips.values()) if (next === undefined || e < next) next = e;
    return next === undefined ? undefined : next + this.#graceMs;
  }

  /** The addresses of a normalized name (made empty when new). */
  #ipsOf(key: string): Map<string, number> {
    let ips = this.#byName.get(key);
    if (!ips) this.#byName.set(key, (ips = new Map()));
    return ips;
  }

  /** Extends an address's expiry for a normalized name (never shortens it), then applies the cap. */
  #put(key: string, ip: string, expiresMs: number): void {
    const ips = this.#ipsOf(key);
    if (expiresMs > (ips.get(ip) ?? -Infinity)) ips.set(ip, expiresMs);
    let names = this.#byIp.get(ip);
    if (!names) this.#byIp.set(ip, (names = new Set()));
    names.add(key);
    // Keeps the `maxIps` addresses of the name that expire last.
    if (ips.size <= this.#maxIps) return;
    for (const [old] of [...ips].sort((a, b) => a[1] - b[1]).slice(0, ips.size - this.#maxIps)) this.#drop(key, ips, old);
  }

  /** Removes one pair from both indexes (the name's map stays; gc removes empty ones). */
  #drop(key: string, ips: Map<string, number>, ip: string): void {
    ips.delete(ip);
    const names = this.#byIp.get(ip);
    names?.delete(key);
    if (names?.size === 0) this.#byIp.delete(ip);
  }
}
