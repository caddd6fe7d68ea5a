// Maglev tables: full, balanced, independent of input order, and disrupted little by a backend change.
import { expect } from 'chai';
import { maglevTable } from '../../agent/lb-maglev.ts';

const names = (n: number) => Array.from({ length: n }, (_x, i) => `10.244.${i >> 8}.${i & 255}:8080/TCP`);
const ids = (n: number) => Array.from({ length: n }, (_x, i) => i + 1);

describe('Maglev lookup tables', function () {
  it('fills every slot and gives each backend about M/N of them', function () {
    const t = maglevTable(names(10), ids(10), 16381);
    expect(t.length).to.equal(16381);
    const counts = new Map<number, number>();
    for (const id of t) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).to.deep.equal(ids(10));
    for (const c of counts.values()) expect(c).to.be.within(1638 - 40, 1638 + 40);
  });

  it('does not depend on the order of the backends', function () {
    const a = maglevTable(names(5), ids(5), 251);
    const b = maglevTable(names(5).reverse(), ids(5).reverse(), 251);
    expect([...a]).to.deep.equal([...b]);
  });

  it('moves few slots of the remaining backends when one leaves', function () {
    const before = maglevTable(names(20), ids(20), 16381);
    const after = maglevTable(names(20).slice(1), ids(20).slice(1), 16381);
    let moved = 0;
    for (let i = 0; i < before.length; i++) if (before[i] !== 1 && before[i] !== after[i]) moved++;
    // Only the removed backend's slots must move; Maglev keeps the others' disruption small.
    expect(moved / before.length).to.be.below(0.05);
  });

  it('rejects a size that is not one of the allowed primes, and an empty backend list', function () {
    expect(() => maglevTable(names(2), ids(2), 1000)).to.throw(/not one of/);
    expect(() => maglevTable([], [], 251)).to.throw(/at least one backend/);
  });
});
