import { expect } from 'chai';
import type { LeaderCallbacks } from '../../runtime/leader-election.ts';
import { createLogger } from '../../runtime/logger.ts';
import { LeaderElectionLostError, Manager, ShutdownTimeoutError, type Runnable, type SyncingRunnable } from '../../runtime/manager.ts';
import { flush } from './fake-clock.ts';

/** Records start/stop of a runnable into a shared log. */
function runnable(log: string[], name: string, needLeaderElection = false): Runnable {
  return {
    needLeaderElection,
    async start(signal) {
      log.push(`start:${name}`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      log.push(`stop:${name}`);
    },
  };
}

/** A cache that syncs when `sync()` is called. */
function cache(log: string[]): SyncingRunnable & { sync(): void } {
  let synced = false;
  const waiters: Array<() => void> = [];
  return {
    ...runnable(log, 'cache'),
    sync() {
      synced = true;
      waiters.splice(0).forEach((w) => w());
    },
    waitForSync: (signal) =>
      synced
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            waiters.push(() => resolve(true));
            signal?.addEventListener('abort', () => resolve(false), { once: true });
          }),
  };
}

describe('runtime/manager', () => {
  it('starts caches, waits for sync, then runnables; stops everything on abort', async () => {
    const log: string[] = [];
    const c = cache(log);
    const m = new Manager().addCache(c).add(runnable(log, 'ctrl', true)).add(runnable(log, 'srv'));
    const stop = new AbortController();
    const done = m.start(stop.signal);
    await flush();
    expect(log).to.deep.equal(['start:cache']);
    c.sync();
    await flush();
    expect(log).to.have.members(['start:cache', 'start:srv', 'start:ctrl']);
    stop.abort();
    await done;
    expect(log.filter((l) => l.startsWith('stop:'))).to.have.members(['stop:cache', 'stop:srv', 'stop:ctrl']);
  });

  it('runs leader-only runnables only while leading and fails when leadership is lost', async () => {
    const log: string[] = [];
    let callbacks: LeaderCallbacks | undefined;
    const m = new Manager({
      leaderElection: (cb) => {
        callbacks = cb;
        return { run: (s) => new Promise<void>((resolve) => s.addEventListener('abort', () => resolve(), { once: true })) };
      },
    })
      .add(runnable(log, 'leader-only', true))
      .add(runnable(log, 'everywhere'));
    const stop = new AbortController();
    const done = m.start(stop.signal);
    await flush();
    expect(log).to.deep.equal(['start:everywhere']);
    const leading = new AbortController();
    callbacks!.onStartedLeading(leading.signal);
    await flush();
    expect(log).to.include('start:leader-only');
    leading.abort();
    callbacks!.onStoppedLeading();
    let error: unknown;
    await done.catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(LeaderElectionLostError);
    expect(log).to.include.members(['stop:leader-only', 'stop:everywhere']);
  });

  it('stops everything and rejects when a runnable fails', async () => {
    const log: string[] = [];
    const lines: string[] = [];
    const failing: Runnable = { start: () => Promise.reject(new Error('port in use')) };
    const m = new Manager({ log: createLogger({ write: (l) => lines.push(l) }) }).add(runnable(log, 'other')).add(failing);
    let error: unknown;
    await m.start(new AbortController().signal).catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal('port in use');
    expect(log).to.deep.equal(['start:other', 'stop:other']);
    expect(lines.some((l) => JSON.parse(l).msg === 'runnable failed, stopping')).to.equal(true);
  });
});

describe('runtime/manager shutdown', () => {
  it('rejects with ShutdownTimeoutError when a runnable ignores the stop signal', async () => {
    const stuck: Runnable = { start: () => new Promise<void>(() => undefined) };
    const m = new Manager({ gracefulShutdownTimeoutMs: 20 }).add(stuck);
    const stop = new AbortController();
    const done = m.start(stop.signal);
    await flush();
    stop.abort();
    let error: unknown;
    await done.catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(ShutdownTimeoutError);
  });
});

describe('runtime/logger', () => {
  it('writes JSON lines with level filtering and child fields', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l), now: () => new Date(0) });
    log.debug('hidden');
    log.child({ controller: 'c' }).child({ key: 'ns/a' }).warn('careful', { err: new Error('x') });
    expect(lines).to.have.length(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).to.deep.include({ ts: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'careful', controller: 'c', key: 'ns/a' });
    expect(rec.err.message).to.equal('x');
  });
});
