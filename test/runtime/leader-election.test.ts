import { expect } from 'chai';
import type { V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaseClient } from '../../runtime/leader-election.ts';
import { FakeClock, flush } from './fake-clock.ts';

/** In-memory Lease store with resourceVersion conflicts, like the API server. */
class FakeLeases implements LeaseClient {
  lease: V1Lease | undefined;
  private rv = 0;
  failing = false;
  hanging = false;
  async get(): Promise<V1Lease | undefined> {
    if (this.hanging) return new Promise(() => undefined);
    if (this.failing) throw new Error('unavailable');
    return this.lease && structuredClone(this.lease);
  }
  async create(lease: V1Lease): Promise<V1Lease> {
    if (this.failing) throw new Error('unavailable');
    if (this.lease) throw Object.assign(new Error('exists'), { code: 409 });
    this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }
  async replace(lease: V1Lease): Promise<V1Lease> {
    if (this.failing) throw new Error('unavailable');
    if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
    this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }
}

describe('runtime/leader-election', () => {
  let clock: FakeClock;
  let leases: FakeLeases;
  const opts = { namespace: 'kube-system', name: 'ciliate', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

  beforeEach(() => {
    clock = new FakeClock();
    leases = new FakeLeases();
  });

  function candidate(identity: string) {
    const log: string[] = [];
    const stop = new AbortController();
    let leading: AbortSignal | undefined;
    const elector = new LeaderElector(
      { ...opts, identity, client: leases, clock },
      {
        onStartedLeading: (s) => {
          leading = s;
          log.push('start');
        },
        onStoppedLeading: () => log.push('stop'),
        onNewLeader: (id) => log.push(`leader:${id}`),
      },
    );
    const done = elector.run(stop.signal);
    return { elector, log, stop, done, leadingSignal: () => leading };
  }

  it('acquires a missing lease, renews it and releases it on stop', async () => {
    const a = candidate('a');
    await flush();
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.log).to.deep.equal(['leader:a', 'start']);
    expect(leases.lease?.spec?.holderIdentity).to.equal('a');
    const firstRenew = new Date(leases.lease!.spec!.renewTime!).getTime();
    await clock.advance(2_000);
    expect(new Date(leases.lease!.spec!.renewTime!).getTime()).to.equal(firstRenew + 2_000);
    a.stop.abort();
    await a.done;
    expect(a.log).to.deep.equal(['leader:a', 'start', 'stop']);
    expect(a.leadingSignal()?.aborted).to.equal(true);
    expect(leases.lease?.spec?.holderIdentity).to.equal('');
  });

  it('a second candidate waits, then takes over only after the lease expires', async () => {
    const a = candidate('a');
    await flush();
    const b = candidate('b');
    await flush();
    expect(b.elector.isLeader()).to.equal(false);
    expect(b.log).to.deep.equal(['leader:a']);
    // The API becomes unreachable: a cannot renew and steps down after the renew deadline.
    leases.failing = true;
    await clock.advance(10_000);
    expect(a.log).to.deep.equal(['leader:a', 'start', 'stop']);
    leases.failing = false;
    await clock.advance(4_000);
    expect(b.elector.isLeader()).to.equal(false);
    await clock.advance(4_000);
    expect(b.elector.isLeader()).to.equal(true);
    expect(leases.lease?.spec?.holderIdentity).to.equal('b');
    expect(leases.lease?.spec?.leaseTransitions).to.equal(1);
    b.stop.abort();
    a.stop.abort();
    await Promise.all([a.done, b.done]);
  });

  it('steps down when the API hangs past the renew deadline', async () => {
    const a = candidate('a');
    await flush();
    leases.hanging = true;
    await clock.advance(2_000 + 9_999);
    expect(a.elector.isLeader()).to.equal(true);
    await clock.advance(1);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.log).to.deep.equal(['leader:a', 'start', 'stop']);
    await a.done;
  });

  it('hands over at once when the leader releases', async () => {
    const a = candidate('a');
    await flush();
    const b = candidate('b');
    await flush();
    a.stop.abort();
    await a.done;
    await clock.advance(2_000);
    expect(b.elector.isLeader()).to.equal(true);
    b.stop.abort();
    await b.done;
  });

  it('rejects a renew deadline not shorter than the lease duration', () => {
    expect(
      () => new LeaderElector({ ...opts, renewDeadlineMs: 15_000, identity: 'x', client: leases, clock }, { onStartedLeading: () => undefined, onStoppedLeading: () => undefined }),
    ).to.throw(/renewDeadline/);
  });
});
