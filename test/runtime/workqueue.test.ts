import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ExponentialBackoff, MaxOf, TokenBucket, defaultRateLimiter } from '../../runtime/rate-limiter.ts';
import { WorkQueue } from '../../runtime/workqueue.ts';
import { FakeClock, flush } from './fake-clock.ts';

describe('runtime/workqueue', () => {
  let clock: FakeClock;
  let q: WorkQueue;
  beforeEach(() => {
    clock = new FakeClock();
    q = new WorkQueue({ name: 'test', clock });
  });

  it('hands keys out in FIFO order', async () => {
    q.add('a');
    q.add('b');
    q.add('c');
    expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(['a', 'b', 'c']);
  });

  it('deduplicates a key added many times before processing', async () => {
    for (let i = 0; i < 5; i++) q.add('a');
    q.add('b');
    expect(q.len()).to.equal(2);
    expect(await q.get()).to.equal('a');
    expect(await q.get()).to.equal('b');
    expect(q.len()).to.equal(0);
  });

  it('never hands out a key that is being processed', async () => {
    q.add('a');
    const first = await q.get();
    q.add('a');
    expect(q.len()).to.equal(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await flush();
    expect(second).to.equal(undefined);
    q.done(first!);
    await flush();
    expect(second).to.equal('a');
  });

  it('runs a key re-added during processing exactly once more after done', async () => {
    q.add('a');
    const k = await q.get();
    q.add('a');
    q.add('a');
    q.done(k!);
    expect(q.len()).to.equal(1);
    const again = await q.get();
    q.done(again!);
    expect(q.len()).to.equal(0);
  });

  it('wakes a waiting getter when a key arrives', async () => {
    const got = q.get();
    q.add('x');
    expect(await got).to.equal('x');
  });

  it('addAfter delays and collapses to the earliest deadline', async () => {
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 200);
    expect(clock.pending()).to.deep.equal([50]);
    await clock.advance(49);
    expect(q.len()).to.equal(0);
    await clock.advance(1);
    expect(q.len()).to.equal(1);
  });

  it('backs off exponentially per key from 5 ms and caps at 5 min', () => {
    const rl = new ExponentialBackoff();
    const delays = Array.from({ length: 20 }, () => rl.when('a'));
    expect(delays.slice(0, 5)).to.deep.equal([5, 10, 20, 40, 80]);
    expect(Math.max(...delays)).to.equal(300_000);
    expect(delays[19]).to.equal(300_000);
    expect(rl.when('b')).to.equal(5);
  });

  it('token bucket allows a burst then paces at the sustained rate; MaxOf takes the longest', () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3, now: () => now });
    expect([bucket.when('a'), bucket.when('b'), bucket.when('c')]).to.deep.equal([0, 0, 0]);
    expect(bucket.when('d')).to.equal(100);
    expect(bucket.when('e')).to.equal(200);
    now = 1000;
    expect(bucket.when('f')).to.equal(0);
    const both = new MaxOf(new ExponentialBackoff({ baseMs: 1 }), new TokenBucket({ perSecond: 1, burst: 1, now: () => now }));
    expect(both.when('k')).to.equal(1);
    expect(both.when('k')).to.equal(1000);
    expect(both.retries('k')).to.equal(2);
    both.forget('k');
    expect(both.retries('k')).to.equal(0);
    expect(defaultRateLimiter(() => now).when('x')).to.equal(5);
  });

  it('addRateLimited grows the delay, forget resets it', async () => {
    q.addRateLimited('a');
    expect(clock.pending()).to.deep.equal([5]);
    await clock.advance(5);
    q.done((await q.get())!);
    q.addRateLimited('a');
    expect(clock.pending()).to.deep.equal([10]);
    await clock.advance(10);
    q.done((await q.get())!);
    expect(q.numRequeues('a')).to.equal(2);
    q.forget('a');
    expect(q.numRequeues('a')).to.equal(0);
    q.addRateLimited('a');
    expect(clock.pending()).to.deep.equal([5]);
  });

  it('shutDown releases waiting getters, drops adds and pending delays', async () => {
    const waiting = q.get();
    q.addAfter('later', 100);
    q.shutDown();
    expect(await waiting).to.equal(undefined);
    q.add('a');
    expect(q.len()).to.equal(0);
    expect(clock.pending()).to.deep.equal([]);
    expect(await q.get()).to.equal(undefined);
    expect(q.shuttingDown).to.equal(true);
  });

  it('shutDownWithDrain waits for in-flight keys', async () => {
    q.add('a');
    const k = await q.get();
    let drained = false;
    void q.shutDownWithDrain().then(() => (drained = true));
    await flush();
    expect(drained).to.equal(false);
    q.done(k!);
    await flush();
    expect(drained).to.equal(true);
  });

  it('exports zero-initialised upstream-named metrics', async () => {
    const registry = new Registry();
    const mq = new WorkQueue({ name: 'm', clock, registry });
    const text0 = await registry.metrics();
    for (const name of ['workqueue_depth', 'workqueue_adds_total', 'workqueue_retries_total']) {
      expect(text0).to.match(new RegExp(`^${name}\\{name="m"\\} 0$`, 'm'));
    }
    expect(text0).to.match(/^workqueue_queue_duration_seconds_count\{name="m"\} 0$/m);
    expect(text0).to.match(/^workqueue_work_duration_seconds_count\{name="m"\} 0$/m);
    mq.add('a');
    mq.add('a');
    mq.add('b');
    await clock.advance(2000);
    const k = await mq.get();
    await clock.advance(500);
    mq.done(k!);
    mq.addRateLimited('a');
    const text = await registry.metrics();
    expect(text).to.match(/^workqueue_adds_total\{name="m"\} 2$/m);
    expect(text).to.match(/^workqueue_depth\{name="m"\} 1$/m);
    expect(text).to.match(/^workqueue_retries_total\{name="m"\} 1$/m);
    expect(text).to.match(/^workqueue_queue_duration_seconds_sum\{name="m"\} 2$/m);
    expect(text).to.match(/^workqueue_work_duration_seconds_sum\{name="m"\} 0.5$/m);
    // A second queue on the same registry shares the families.
    new WorkQueue({ name: 'n', clock, registry });
    expect(await registry.metrics()).to.match(/^workqueue_depth\{name="n"\} 0$/m);
  });
});
