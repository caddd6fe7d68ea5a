// Sorted identity lists: union, marking common positions, applying changes, against plain
// Set-and-sort references on random inputs.
import { expect } from 'chai';
import fc from 'fast-check';
import { lowerBound, markSelected, positionOf, sortedUnion, withChanges } from '../../policy/sorted-ids.ts';

const sortedIds = (max = 60) => fc.uniqueArray(fc.integer({ min: 0, max }), { maxLength: 40 }).map((xs) => xs.sort((a, b) => a - b));
const reference = (lists: readonly (readonly number[])[]) => [...new Set(lists.flat())].sort((a, b) => a - b);

describe('sorted identity lists', () => {
  it('sortedUnion equals the sorted set of all inputs', () => {
    fc.assert(fc.property(fc.array(sortedIds(), { maxLength: 12 }), (lists) => {
      expect([...sortedUnion(lists)]).to.deep.equal(reference(lists));
    }));
  });

  it('sortedUnion returns a lone list as is and counts a repeated list once', () => {
    const only = [1, 5, 9];
    expect(sortedUnion([only, [], only])).to.equal(only);
    expect(sortedUnion([])).to.deep.equal([]);
  });

  it('positionOf and lowerBound find values and insertion points', () => {
    fc.assert(fc.property(sortedIds(), fc.integer({ min: -1, max: 61 }), (list, v) => {
      expect(positionOf(list, v)).to.equal(list.indexOf(v));
      const at = lowerBound(list, v);
      expect(list.slice(0, at).every((x) => x < v)).to.equal(true);
      expect(list.slice(at).every((x) => x >= v)).to.equal(true);
    }));
  });

  it('markSelected marks exactly the common positions, whichever strategy it picks', () => {
    // Lengths from 0 to a few thousand make each of the walk and the two searches the cheapest.
    const lists = fc.oneof(sortedIds(), sortedIds(5000), fc.constant(Array.from({ length: 3000 }, (_, i) => i * 2)));
    fc.assert(fc.property(lists, lists, fc.integer({ min: 0, max: 31 }), (ids, selected, bit) => {
      const mask = (1 << bit) >>> 0;
      const bits = new Uint32Array(ids.length * 2);
      markSelected(ids, selected, bits, 2, 1, mask);
      const chosen = new Set(selected);
      const want = new Uint32Array(ids.length * 2);
      ids.forEach((id, p) => (want[p * 2 + 1] = chosen.has(id) ? mask : 0));
      expect(Buffer.from(bits.buffer).equals(Buffer.from(want.buffer))).to.equal(true);
    }), { numRuns: 200 });
  });

  it('withChanges adds and removes like a set, splicing few changes or merging many', () => {
    const changes = fc.tuple(sortedIds(), sortedIds()).map(([add, remove]) => [add, remove.filter((v) => !add.includes(v))] as const);
    fc.assert(fc.property(sortedIds(), changes, (list, [add, remove]) => {
      const before = [...list];
      const got = withChanges(list, add, remove);
      expect(got).to.deep.equal(reference([list.filter((v) => !remove.includes(v)), add]));
      expect(list).to.deep.equal(before);
    }));
  });
});
