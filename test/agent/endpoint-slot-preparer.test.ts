// The slot worker runs only while it has jobs: started by the first, stopped when idle, started
// again by the next; a job it cannot do fails with the worker's reason.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlotPreparer } from '../../agent/endpoint-slot-preparer.ts';

/** Waits until `cond` holds (the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

describe('endpoint slot preparer', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ciliate-slot-preparer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts its worker on the first job, stops it when idle and starts it again for the next', async () => {
    const preparer = new SlotPreparer(50);
    expect(preparer.running).to.equal(false);
    // No pinned outer maps under this folder: the worker answers with its error.
    const first = preparer.prepare({ id: 7, pinRoot: join(dir, 'none') });
    expect(preparer.running).to.equal(true);
    const err = await first.then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).to.match(/^preparing endpoint slot 7: /);
    await until(() => !preparer.running);
    const again = await preparer.prepare({ id: 8, pinRoot: join(dir, 'none') }).then(() => undefined, (e: unknown) => e as Error);
    expect(again?.message).to.match(/^preparing endpoint slot 8: /);
    preparer.close();
    expect(preparer.running).to.equal(false);
  });

  it('fails the jobs still waiting when closed', async () => {
    const preparer = new SlotPreparer();
    const job = preparer.prepare({ id: 9, pinRoot: join(dir, 'none') });
    preparer.close();
    const err = await job.then(() => undefined, (e: unknown) => e as Error);
    expect(err).to.be.instanceOf(Error);
  });
});
