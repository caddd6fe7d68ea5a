import { expect } from 'chai';
import fc from 'fast-check';
import { WorkQueue } from '../../runtime/workqueue.ts';
import { FakeClock } from './fake-clock.ts';

type Op = { kind: 'add'; key: string } | { kind: 'get' } | { kind: 'done'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.record({ kind: fc.constant('get' as const) }),
  fc.record({ kind: fc.constant('done' as const), pick: fc.nat() }),
);

describe('runtime/workqueue properties', () => {
  it('serialises keys, deduplicates, and processes every key after its last add', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
        const q = new WorkQueue({ name: 'prop', clock: new FakeClock() });
        const processing = new Set<string>();
        const adds = new Map<string, number>();
        const handedOut = new Map<string, number>();
        const lastAdd = new Map<string, number>();
        const lastStart = new Map<string, number>();
        let step = 0;
        const take = async (): Promise<void> => {
          const key = await q.get();
          if (key === undefined) throw new Error('unexpected shutdown');
          expect(processing.has(key), `${key} handed out while processing`).to.equal(false);
          processing.add(key);
          handedOut.set(key, (handedOut.get(key) ?? 0) + 1);
          lastStart.set(key, step);
        };
        for (const op of ops) {
          step++;
          if (op.kind === 'add') {
            q.add(op.key);
            adds.set(op.key, (adds.get(op.key) ?? 0) + 1);
            lastAdd.set(op.key, step);
          } else if (op.kind === 'get') {
            if (q.len() > 0) await take();
          } else if (processing.size > 0) {
            const key = [...processing][op.pick % processing.size]!;
            processing.delete(key);
            q.done(key);
          }
        }
        // Drain: finish in-flight work, then process everything left.
        step++;
        for (const key of [...processing]) {
          processing.delete(key);
          q.done(key);
        }
        while (q.len() > 0) {
          step++;
          await take();
          for (const key of [...processing]) {
            processing.delete(key);
            q.done(key);
          }
        }
        for (const [key, added] of lastAdd) {
          expect(lastStart.get(key) ?? -1, `${key} not processed after its last add`).to.be.greaterThan(added);
          expect(handedOut.get(key) ?? 0).to.be.at.most(adds.get(key) ?? 0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
