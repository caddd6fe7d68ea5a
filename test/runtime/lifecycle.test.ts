// The lifecycle of a process's modules: start hooks in registration order, stop hooks in reverse for
// the started ones only, a failing start stops the start, stop runs once.
import { expect } from 'chai';
import { Lifecycle } from '../../runtime/lifecycle.ts';
import { createLogger } from '../../runtime/logger.ts';

describe('lifecycle', () => {
  it('starts hooks in order, then stops the started ones in reverse, once', async () => {
    const seen: string[] = [];
    const lines: Record<string, unknown>[] = [];
    const lc = new Lifecycle(createLogger({ write: (l) => lines.push(JSON.parse(l)) }));
    for (const name of ['a', 'b', 'c']) {
      lc.append({
        name,
        start: async () => void seen.push(`start ${name}`),
        stop: () => {
          seen.push(`stop ${name}`);
          if (name === 'b') throw new Error('b cannot stop');
        },
      });
    }
    let started = false;
    void lc.started.then(() => (started = true));
    await lc.start(new AbortController().signal);
    await Promise.resolve();
    expect(started).to.equal(true);
    lc.stop();
    lc.stop();
    expect(seen).to.deep.equal(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
    expect(lines.find((l) => l.msg === 'stop hook failed')).to.include({ hook: 'b', err: 'b cannot stop' });
  });

  it('a failing start hook stops the start: later hooks do not start, and only started ones stop', async () => {
    const seen: string[] = [];
    const lc = new Lifecycle();
    lc.append({ name: 'a', start: () => void seen.push('start a'), stop: () => void seen.push('stop a') });
    lc.append({ name: 'b', start: () => { throw new Error('no kernel'); }, stop: () => void seen.push('stop b') });
    lc.append({ name: 'c', start: () => void seen.push('start c'), stop: () => void seen.push('stop c') });
    let err: Error | undefined;
    await lc.start(new AbortController().signal).catch((e: Error) => (err = e));
    expect(err?.message).to.equal('no kernel');
    lc.stop();
    expect(seen).to.deep.equal(['start a', 'stop b', 'stop a']);
  });

  it('as a runnable, starts its hooks and runs until the signal aborts', async () => {
    const seen: string[] = [];
    const lc = new Lifecycle();
    lc.append({ name: 'a', start: () => void seen.push('start a'), stop: () => void seen.push('stop a') });
    const stop = new AbortController();
    const running = lc.runnable().start(stop.signal);
    await lc.started;
    expect(seen).to.deep.equal(['start a']);
    stop.abort();
    await running;
    // Stop hooks are the composition root's to run, after every runnable stopped.
    expect(seen).to.deep.equal(['start a']);
    lc.stop();
    expect(seen).to.deep.equal(['start a', 'stop a']);
  });
});
