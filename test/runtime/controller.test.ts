import { expect } from 'chai';
import { Registry } from 'prom-client';
import { Controller } from '../../runtime/controller.ts';
import { Informer } from '../../runtime/informer.ts';
import { createLogger } from '../../runtime/logger.ts';
import { TerminalError, type ReconcileContext, type Reconciler, type Request, type Result } from '../../runtime/reconcile.ts';
import { FakeClock, flush } from './fake-clock.ts';
import { FakeSource, obj } from './fake-source.ts';

/** A reconciler that records calls and answers from a script. */
class ScriptedReconciler implements Reconciler {
  calls: Array<{ req: Request; at: number; id: string }> = [];
  active = 0;
  maxActivePerKey = 0;
  private readonly activeKeys = new Map<string, number>();
  constructor(
    private readonly clock: FakeClock,
    private readonly answer: (req: Request, attempt: number) => Result | Error | Promise<Result>,
  ) {}
  async reconcile(ctx: ReconcileContext, req: Request): Promise<Result> {
    const key = `${req.namespace}/${req.name}`;
    this.activeKeys.set(key, (this.activeKeys.get(key) ?? 0) + 1);
    this.maxActivePerKey = Math.max(this.maxActivePerKey, this.activeKeys.get(key)!);
    this.calls.push({ req, at: this.clock.now(), id: ctx.reconcileId });
    try {
      const a = await this.answer(req, this.calls.filter((c) => c.req.name === req.name).length);
      if (a instanceof Error) throw a;
      return a;
    } finally {
      this.activeKeys.set(key, this.activeKeys.get(key)! - 1);
    }
  }
}

describe('runtime/controller', () => {
  let clock: FakeClock;
  let source: FakeSource;
  let informer: Informer<ReturnType<typeof obj>>;
  let stop: AbortController;
  let running: Promise<void>[];

  beforeEach(() => {
    clock = new FakeClock();
    source = new FakeSource();
    informer = new Informer(source, { clock });
    stop = new AbortController();
    running = [];
  });
  afterEach(async () => {
    stop.abort();
    await Promise.all(running);
  });

  function startAll(c: Controller): void {
    running.push(informer.start(stop.signal), c.start(stop.signal));
  }

  /** For each [ms, n]: advance the clock by ms, then expect n reconcile calls in total. */
  async function expectCalls(r: ScriptedReconciler, steps: Array<[number, number]>): Promise<void> {
    for (const [ms, n] of steps) {
      await clock.advance(ms);
      expect(r.calls, `after +${ms} ms`).to.have.length(n);
    }
  }

  it('reconciles every object of the primary cache once synced', async () => {
    source.items = [obj('a', '1'), obj('b', '1', 'other')];
    const r = new ScriptedReconciler(clock, () => ({}));
    const c = new Controller({ name: 't', reconciler: r, clock }).for(informer);
    startAll(c);
    await flush();
    expect(r.calls.map((x) => x.req)).to.deep.equal([
      { namespace: 'default', name: 'a' },
      { namespace: 'other', name: 'b' },
    ]);
    expect(new Set(r.calls.map((x) => x.id)).size).to.equal(2);
  });

  it('retries errors with growing backoff and forgets on success', async () => {
    source.items = [obj('a', '1')];
    const r = new ScriptedReconciler(clock, (_req, n) => (n <= 3 ? new Error('boom') : {}));
    const c = new Controller({ name: 't', reconciler: r, clock }).for(informer);
    startAll(c);
    await expectCalls(r, [[0, 1], [5, 2], [9, 2], [1, 3], [20, 4]]);
    expect(c.queue.numRequeues('default/a')).to.equal(0);
    await expectCalls(r, [[60_000, 4]]);
  });

  it('does not retry a TerminalError and counts it', async () => {
    source.items = [obj('a', '1')];
    const registry = new Registry();
    const lines: string[] = [];
    const r = new ScriptedReconciler(clock, () => new TerminalError('bad spec'));
    const c = new Controller({ name: 'term', reconciler: r, clock, registry, log: createLogger({ write: (l) => lines.push(l) }) }).for(
      informer,
    );
    startAll(c);
    await flush();
    await clock.advance(600_000);
    expect(r.calls).to.have.length(1);
    const text = await registry.metrics();
    expect(text).to.match(/^controller_runtime_reconcile_errors_total\{controller="term"\} 1$/m);
    expect(text).to.match(/^controller_runtime_terminal_reconcile_errors_total\{controller="term"\} 1$/m);
    expect(text).to.match(/^controller_runtime_reconcile_total\{controller="term",result="error"\} 1$/m);
    expect(text).to.match(/^controller_runtime_reconcile_total\{controller="term",result="success"\} 0$/m);
    const line = JSON.parse(lines.find((l) => l.includes('terminally'))!);
    expect(line).to.include({ controller: 'term', key: 'default/a', reconcileId: r.calls[0]!.id, level: 'error' });
  });

  it('lets an error policy choose the retry delay, falling back to backoff', async () => {
    source.items = [obj('a', '1')];
    const r = new ScriptedReconciler(clock, (_req, n) => (n <= 3 ? new Error(`fail ${n}`) : {}));
    const attempts: number[] = [];
    const c = new Controller({
      name: 't',
      reconciler: r,
      clock,
      errorPolicy: (req, err, n) => {
        attempts.push(n);
        expect(req).to.deep.equal({ namespace: 'default', name: 'a' });
        expect((err as Error).message).to.equal(`fail ${n}`);
        return n === 1 ? { requeueAfterMs: 7_000 } : undefined;
      },
    }).for(informer);
    startAll(c);
    await expectCalls(r, [[6_999, 1], [1, 2], [5, 3], [10, 4]]);
    expect(attempts).to.deep.equal([1, 2, 3]);
  });

  it('honours requeueAfterMs', async () => {
    source.items = [obj('a', '1')];
    const r = new ScriptedReconciler(clock, () => ({ requeueAfterMs: 1000 }));
    const c = new Controller({ name: 't', reconciler: r, clock }).for(informer);
    startAll(c);
    await flush();
    await clock.advance(999);
    expect(r.calls).to.have.length(1);
    await clock.advance(1);
    expect(r.calls).to.have.length(2);
    expect(r.calls[1]!.at - r.calls[0]!.at).to.equal(1000);
  });

  it('resyncs every cached key each interval', async () => {
    source.items = [obj('a', '1'), obj('b', '1')];
    const r = new ScriptedReconciler(clock, () => ({}));
    const c = new Controller({ name: 't', reconciler: r, clock, resyncIntervalMs: 10_000 }).for(informer);
    startAll(c);
    await flush();
    expect(r.calls).to.have.length(2);
    await clock.advance(10_000);
    expect(r.calls).to.have.length(4);
    await clock.advance(10_000);
    expect(r.calls).to.have.length(6);
  });

  it('reconciles on watch changes, never the same key concurrently across workers', async () => {
    source.items = [obj('a', '1')];
    let release: () => void = () => undefined;
    const r = new ScriptedReconciler(clock, (req, n) =>
      req.name === 'a' && n === 2 ? new Promise<Result>((res) => (release = () => res({}))) : {},
    );
    const c = new Controller({ name: 't', reconciler: r, clock, workers: 4 }).for(informer);
    startAll(c);
    await flush();
    source.current.emit({ type: 'MODIFIED', object: obj('a', '2') });
    await flush();
    expect(r.calls).to.have.length(2);
    source.current.emit({ type: 'MODIFIED', object: obj('a', '3') });
    source.current.emit({ type: 'MODIFIED', object: obj('a', '4') });
    source.current.emit({ type: 'ADDED', object: obj('b', '5') });
    await flush();
    expect(r.calls.map((x) => x.req.name)).to.deep.equal(['a', 'a', 'b']);
    release();
    await flush();
    expect(r.calls.map((x) => x.req.name)).to.deep.equal(['a', 'a', 'b', 'a']);
    expect(r.maxActivePerKey).to.equal(1);
  });

  it('stops gracefully, waiting for the in-flight reconcile', async () => {
    source.items = [obj('a', '1')];
    let finished = false;
    const r = new ScriptedReconciler(clock, async () => {
      await clock.advance(0);
      await new Promise((res) => setTimeout(res, 5));
      finished = true;
      return {};
    });
    const c = new Controller({ name: 't', reconciler: r, clock }).for(informer);
    startAll(c);
    await flush();
    stop.abort();
    await Promise.all(running);
    expect(finished).to.equal(true);
  });
});
