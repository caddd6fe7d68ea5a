// Leader election on a coordination.k8s.io/v1 Lease with optimistic concurrency.
import type { V1Lease } from '@kubernetes/client-node';
import { realClock, sleep, type Clock } from './clock.ts';
import { statusCodeOf } from './api-errors.ts';
import { nopLogger, type Logger } from './logger.ts';
import { MicroTime } from './micro-time.ts';

/** The Lease operations leader election needs; `leaseClient` (kube-lease-client.ts) implements them over the API. */
export interface LeaseClient {
  /** Reads the lease, or undefined if it does not exist. */
  get(namespace: string, name: string): Promise<V1Lease | undefined>;
  /** Creates the lease; rejects with code 409 if it already exists. */
  create(lease: V1Lease): Promise<V1Lease>;
  /** Replaces the lease; rejects with code 409 if its resourceVersion is stale. */
  replace(lease: V1Lease): Promise<V1Lease>;
}

/** Configuration of a {@link LeaderElector}. */
export interface LeaderElectionConfig {
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This candidate's unique identity (e.g. pod name + random suffix). */
  identity: string;
  /** Lease API. */
  client: LeaseClient;
  /** How long a lease is valid without renewal; default 15 s. */
  leaseDurationMs?: number;
  /** A leader that cannot renew within this long steps down; default 10 s. Must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts; default 2 s. */
  retryPeriodMs?: number;
  /** Clear the holder when stopping so another candidate can take over at once; default true. */
  releaseOnCancel?: boolean;
  /** Clock; default real. */
  clock?: Clock;
  /** Logger; default discards. */
  log?: Logger;
}

/** Leadership notifications. */
export interface LeaderCallbacks {
  /** Became leader; `signal` aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void;
  /** Leadership ended (lost, or released on stop). */
  onStoppedLeading(): void;
  /** The observed leader changed (including to ourselves). */
  onNewLeader?(identity: string): void;
}

/**
 * Competes for a Lease and keeps it renewed while leading.
 *
 * Flow: every retry period, read the lease; take it if it is free, ours, or its holder has not
 * renewed for a lease duration as measured on *our* clock since we last saw it change (so clock
 * skew between candidates does not matter). Writes carry the read resourceVersion; a 409 means
 * someone else won the race. While leading, renewals repeat every retry period; if none succeeds
 * within the renew deadline, leadership is given up. On stop, the lease is released.
 */
export class LeaderElector {
  private readonly cfg: Required<Omit<LeaderElectionConfig, 'log' | 'clock'>>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private observed: { record: string; at: number; holder: string } | undefined;
  private lease: V1Lease | undefined;
  private leading = false;

  /** Creates an elector; call {@link run} to take part. */
  constructor(
    config: LeaderElectionConfig,
    private readonly callbacks: LeaderCallbacks,
  ) {
    this.cfg = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      releaseOnCancel: true,
      ...config,
    };
    if (this.cfg.renewDeadlineMs >= this.cfg.leaseDurationMs) throw new Error('leader election: renewDeadline must be < leaseDuration');
    this.clock = config.clock ?? realClock;
    this.log = (config.log ?? nopLogger).child({ lease: `${config.namespace}/${config.name}`, identity: config.identity });
  }

  /** Whether this candidate currently holds the lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /** Acquires, then renews until leadership is lost or `signal` aborts. Resolves when done. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) break;
      await sleep(this.clock, this.cfg.retryPeriodMs, signal);
    }
    if (signal.aborted) return;
    this.leading = true;
    this.log.info('became leader');
    const leadership = new AbortController();
    this.callbacks.onStartedLeading(leadership.signal);
    let lastRenew = this.clock.now();
    while (await sleep(this.clock, this.cfg.retryPeriodMs, signal)) {
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.clock.now();
      } else if (this.clock.now() - lastRenew >= this.cfg.renewDeadlineMs) {
        this.log.warn('failed to renew lease within the renew deadline, stepping down');
        break;
      }
    }
    this.leading = false;
    leadership.abort();
    if (signal.aborted && this.cfg.releaseOnCancel) await this.release();
    this.callbacks.onStoppedLeading();
  }

  /** One attempt, abandoned (as a failure) if the API does not answer within the renew deadline. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const timeout = new AbortController();
    const timedOut = sleep(this.clock, this.cfg.renewDeadlineMs, timeout.signal).then(() => false);
    try {
      return await Promise.race([this.attempt(), timedOut]);
    } finally {
      timeout.abort();
    }
  }

  /** One attempt; true if we hold the lease afterwards. Errors count as failure. */
  private async attempt(): Promise<boolean> {
    const { namespace, name, identity } = this.cfg;
    const now = this.clock.now();
    try {
      const current = await this.cfg.client.get(namespace, name);
      if (!current) {
        this.lease = await this.cfg.client.create(this.desired({ metadata: { namespace, name } }, now, true));
        this.observe(this.lease, now);
        return true;
      }
      this.observe(current, now);
      const holder = current.spec?.holderIdentity ?? '';
      const expired = this.observed !== undefined && this.observed.at + this.leaseDurationOf(current) <= now;
      if (holder && holder !== identity && !expired) return false;
      this.lease = await this.cfg.client.replace(this.desired(current, now, holder !== identity));
      this.observe(this.lease, now);
      return true;
    } catch (err) {
      if (statusCodeOf(err) !== 409) this.log.warn('lease update failed', { err });
      return false;
    }
  }

  /** The lease as we want it: held by us, renewed now; `taking` marks a change of holder. */
  private desired(base: V1Lease, now: number, taking: boolean): V1Lease {
    const spec = base.spec ?? {};
    const stamp = new MicroTime(now);
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: base.metadata,
      spec: {
        ...spec,
        holderIdentity: this.cfg.identity,
        leaseDurationSeconds: Math.ceil(this.cfg.leaseDurationMs / 1000),
        renewTime: stamp,
        acquireTime: taking ? stamp : spec.acquireTime ?? stamp,
        leaseTransitions: taking && base.spec ? (spec.leaseTransitions ?? 0) + 1 : (spec.leaseTransitions ?? 0),
      },
    };
  }

  /** Remembers when the lease record last changed, on our clock; reports new leaders. */
  private observe(lease: V1Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const record = JSON.stringify([holder, lease.spec?.renewTime, lease.spec?.leaseDurationSeconds, lease.spec?.leaseTransitions]);
    if (this.observed?.record === record) return;
    const previous = this.observed?.holder;
    this.observed = { record, at: now, holder };
    if (holder && holder !== previous) this.callbacks.onNewLeader?.(holder);
  }

  private leaseDurationOf(lease: V1Lease): number {
    return (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.cfg.leaseDurationMs / 1000)) * 1000;
  }

  /** Gives the lease up (empty holder, 1 s duration) if we still hold it. */
  private async release(): Promise<void> {
    if (!this.lease || this.lease.spec?.holderIdentity !== this.cfg.identity) return;
    try {
      const now = new MicroTime(this.clock.now());
      await this.cfg.client.replace({
        ...this.lease,
        spec: { ...this.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
      this.log.info('released lease');
    } catch (err) {
      this.log.warn('releasing lease failed', { err });
    }
  }
}
