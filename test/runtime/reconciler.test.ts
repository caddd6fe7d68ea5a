// The generic table reconciler against a fake target: rounds, per-row errors and retry, ordering,
// refresh and prune, read-your-writes.
import { expect } from 'chai';
import { DesiredTable } from '../../runtime/reconciler/table.ts';
import { TableReconciler } from '../../runtime/reconciler/reconciler.ts';
import type { Operations } from '../../runtime/reconciler/operations.ts';
import { ExponentialBackoff } from '../../runtime/rate-limiter.ts';
import { FakeClock } from './fake-clock.ts';
import { createLogger } from '../../runtime/logger.ts';

/** A target that records its operations and fails on keys in `faulty`. */
class FakeTarget implements Operations<string, number> {
  readonly rows = new Map<string, number>();
  readonly log: string[] = [];
  readonly faulty = new Set<string>();
  batches = 0;
  update(k: string, v: number): void {
    if (this.faulty.has(k)) throw new Error(`cannot write ${k}`);
    this.log.push(`+${k}`);
    this.rows.set(k, v);
  }
  delete(k: string): void {
    if (this.faulty.has(k)) throw new Error(`cannot delete ${k}`);
    this.log.push(`-${k}`);
    this.rows.delete(k);
  }
  list(): Iterable<readonly [string, number]> {
    return [...this.rows];
  }
  updateBatch(rows: ReadonlyArray<readonly [string, number]>): void {
    this.batches++;
    for (const [k, v] of rows) this.update(k, v);
  }
}

const table = (name = 't') => new DesiredTable<string, number>(name, (k) => k, (a, b) => a === b);

describe('table reconciler (fake target)', () => {
  let clock: FakeClock;
  let target: FakeTarget;
  let t: DesiredTable<string, number>;
  let r: TableReconciler;
  const make = (opts: Partial<ConstructorParameters<typeof TableReconciler>[0]> = {}) =>
    new TableReconciler({ name: 'test', clock, tables: [{ table: t, ops: target }], retry: new ExponentialBackoff({ baseMs: 100, maxMs: 1000 }), ...opts });

  beforeEach(() => {
    clock = new FakeClock();
    target = new FakeTarget();
    t = table();
    r = make();
  });

  it('writes nothing before it is enabled, then everything pending', async () => {
    t.set('a', 1, 'test');
    expect(target.rows.size).to.equal(0);
    expect(t.counts()).to.deep.equal({ rows: 1, pending: 1, error: 0 });
    const waited = r.waitUntilReconciled(t);
    r.enable();
    expect(await waited).to.deep.equal([]);
    expect([...target.rows]).to.deep.equal([['a', 1]]);
    expect(t.row('a')!.status).to.deep.equal({ kind: 'done' });
  });

  it('writes a batch as one round, upserts before deletes', () => {
    r.enable();
    t.set('old', 1, 'x');
    target.log.length = 0;
    t.batch(() => {
      t.delete('old');
      t.set('new1', 2, 'x');
      t.set('new2', 3, 'x');
    });
    expect(target.log).to.deep.equal(['+new1', '+new2', '-old']);
    expect(target.batches).to.equal(1);
    expect(t.row('old')).to.equal(undefined);
  });

  it('puts a failing row in error without blocking the others, and retries it with backoff', async () => {
    r.enable();
    target.faulty.add('b');
    t.batch(() => ['a', 'b', 'c'].forEach((k, i) => t.set(k, i, `ep${i}`)));
    expect([...target.rows.keys()].sort()).to.deep.equal(['a', 'c']);
    const b = t.row('b')!;
    expect(b.status).to.deep.equal({ kind: 'error', message: 'cannot write b', attempts: 1 });
    expect(t.counts()).to.deep.equal({ rows: 3, pending: 0, error: 1 });
    // Read-your-writes resolves with the failed row: it was attempted.
    expect((await r.waitUntilReconciled(t)).map((x) => x.id)).to.deep.equal(['b']);
    await clock.advance(100);
    expect(t.row('b')!.status).to.include({ kind: 'error', attempts: 2 });
    target.faulty.delete('b');
    await clock.advance(200);
    expect(target.rows.get('b')).to.equal(1);
    expect(t.counts().error).to.equal(0);
  });

  it('logs one line per table for the rows that failed in a round, not one per row or retry', async () => {
    const lines: Record<string, unknown>[] = [];
    r = make({ log: createLogger({ write: (l) => lines.push(JSON.parse(l)) }) });
    r.enable();
    ['x', 'y', 'z'].forEach((k) => target.faulty.add(k));
    t.batch(() => ['x', 'y', 'z', 'ok'].forEach((k) => t.set(k, 1, `origin-${k}`)));
    await clock.advance(1000);
    expect(lines.map((l) => [l.msg, l.table, l.rows, l.firstOrigin])).to.deep.equal([['rows not written; retrying with backoff', 't', 3, 'origin-x']]);
  });

  it('writes a changed row at once even while it backs off', () => {
    r.enable();
    target.faulty.add('b');
    t.set('b', 1, 'x');
    target.faulty.delete('b');
    t.set('b', 2, 'x');
    expect(target.rows.get('b')).to.equal(2);
    expect(t.row('b')!.status.kind).to.equal('done');
  });

  it('keeps a row in error until its delete succeeds', () => {
    r.enable();
    t.set('a', 1, 'x');
    target.faulty.add('a');
    t.delete('a');
    expect(t.row('a')!.status.kind).to.equal('error');
    expect(t.counts()).to.deep.equal({ rows: 0, pending: 0, error: 1 });
  });

  it('holds a row waiting for room: pending, unwritten, not an error, not waited for; written once set without the wait', async () => {
    r.enable();
    t.set('a', 1, 'x');
    t.set('b', 2, 'x', 'room in t');
    expect(target.rows.has('b')).to.equal(false);
    expect(t.row('b')!.status).to.deep.equal({ kind: 'pending', waitingFor: 'room in t' });
    expect(t.counts()).to.deep.equal({ rows: 2, pending: 1, error: 0 });
    expect(t.held().map((x) => x.id)).to.deep.equal(['b']);
    expect(await r.waitUntilReconciled(t)).to.deep.equal([]);
    // Setting it again while still waiting changes nothing; without the wait it is written.
    const rev = t.revision;
    t.set('b', 2, 'x', 'room in t');
    expect(t.revision).to.equal(rev);
    t.set('b', 2, 'x');
    expect(target.rows.get('b')).to.equal(2);
    expect(t.counts()).to.deep.equal({ rows: 2, pending: 0, error: 0 });
  });

  it('refuses waiters once it is disabled with their rows unwritten, and resolves those with nothing left to write', async () => {
    const waited = r.waitUntilReconciled((t.set('a', 1, 'x'), t));
    r.enable();
    expect(await waited).to.deep.equal([]);
    r.disable();
    // Stopped: nothing pending resolves at once; a row it will not write is refused.
    expect(await r.waitUntilReconciled(t)).to.deep.equal([]);
    t.set('b', 1, 'x');
    let refused: Error | undefined;
    await r.waitUntilReconciled(t).catch((err: Error) => (refused = err));
    expect(refused?.message).to.equal('reconciler test stopped before t reached revision 2');
  });

  it('refresh repairs lost and changed rows and prunes unwanted ones, counting each', () => {
    r.enable();
    t.batch(() => ['a', 'b', 'c'].forEach((k, i) => t.set(k, i, 'x')));
    target.rows.delete('a');
    target.rows.set('b', 99);
    target.rows.set('stranger', 7);
    expect(r.refresh()).to.deep.equal([{ table: 't', repaired: 2, pruned: 1, errors: 0 }]);
    expect([...target.rows].sort()).to.deep.equal([['a', 0], ['b', 1], ['c', 2]]);
    expect(r.refresh()).to.deep.equal([{ table: 't', repaired: 0, pruned: 0, errors: 0 }]);
  });

  it('refresh does not prune while the binding says not yet, nor touch rows in error', () => {
    let prime = false;
    r = make({ tables: [{ table: t, ops: target, prune: () => prime }] });
    r.enable();
    target.rows.set('kept', 1);
    t.set('a', 1, 'x');
    target.rows.set('a', 5);
    target.faulty.add('a');
    t.set('a', 2, 'x');
    expect(r.refresh()[0]).to.include({ repaired: 0, pruned: 0 });
    expect(target.rows.get('a')).to.equal(5);
    prime = true;
    expect(r.refresh()[0]).to.include({ pruned: 1 });
  });

  it('orders upserts across tables first to last and deletes last to first, each in its order', () => {
    const first = table('first');
    const second = table('second');
    const desc = (a: string, b: string) => b.localeCompare(a);
    r = new TableReconciler({ name: 'lb', clock, tables: [{ table: first, ops: target }, { table: second, ops: target, order: desc }] });
    r.enable();
    first.batch(() => second.batch(() => {
      second.set('s0', 1, 'x');
      second.set('s1', 1, 'x');
      first.set('b', 1, 'x');
    }));
    expect(target.log).to.deep.equal(['+b', '+s1', '+s0']);
    target.log.length = 0;
    first.batch(() => second.batch(() => {
      first.delete('b');
      second.delete('s1');
      second.delete('s0');
    }));
    expect(target.log).to.deep.equal(['-s0', '-s1', '-b']);
  });

  it('refreshes periodically while started and stops writing when stopped', async () => {
    r = make({ refreshIntervalMs: 1000 });
    const stop = new AbortController();
    const running = r.start(stop.signal);
    t.set('a', 1, 'x');
    target.rows.delete('a');
    await clock.advance(1000);
    expect(target.rows.get('a')).to.equal(1);
    stop.abort();
    await running;
    t.set('b', 1, 'x');
    expect(target.rows.has('b')).to.equal(false);
  });
});
