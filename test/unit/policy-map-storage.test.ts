// How a map state is stored: the paged table against a Map on random operations, and entry
// groups shared between states without ever being changed in place.
import { expect } from 'chai';
import fc from 'fast-check';
import { MapState } from '../../policy/mapstate.ts';
import type { MapStateRow, PolicyEntry, PolicyKey } from '../../policy/mapstate-types.ts';
import { PagedTable } from '../../policy/paged-table.ts';

const allow = (name: string): PolicyEntry => ({ deny: false, proxyPort: 0, derivedFrom: [{ kind: 'CiliumNetworkPolicy', name, ruleIndex: 0 }] });
const key = (identity: number, port: number): PolicyKey => ({ direction: 'ingress', identity, protocol: 6, port, portPrefixLen: 16 });

describe('PagedTable', () => {
  it('behaves like a Map on random sets and deletes, and lists keys ascending', () => {
    const keyArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 2 ** 33, max: 2 ** 33 + 200 }));
    const opArb = fc.tuple(fc.boolean(), keyArb, fc.integer());
    fc.assert(fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
      const table = new PagedTable<number>();
      const ref = new Map<number, number>();
      for (const [set, k, v] of ops) {
        if (set) {
          table.set(k, v);
          ref.set(k, v);
        } else {
          table.delete(k);
          ref.delete(k);
        }
        expect(table.get(k)).to.equal(ref.get(k));
      }
      expect(table.size).to.equal(ref.size);
      expect([...table.entries()]).to.deep.equal([...ref].sort(([a], [b]) => a - b));
    }));
  });
});

describe('MapState storage', () => {
  it('never changes a group in place: a state built from another keeps its rows', () => {
    const a = new MapState();
    const sink = { added: [] as MapStateRow[], changed: [] as MapStateRow[], removed: [] as MapStateRow[] };
    a.set(key(300, 80), allow('x'));
    const b = new MapState();
    b.replaceGroup(300 * 2, a.groupAt(300 * 2), sink);
    b.set(key(300, 443), allow('y'));
    b.delete(key(300, 80));
    expect(a.rows().map((r) => [r.key.port, r.entry.derivedFrom[0]!.name])).to.deep.equal([[80, 'x']]);
    expect(b.rows().map((r) => [r.key.port, r.entry.derivedFrom[0]!.name])).to.deep.equal([[443, 'y']]);
    expect(sink.added.map((r) => r.key)).to.deep.equal([key(300, 80)]);
    expect([a.size, b.size]).to.deep.equal([1, 1]);
  });

  it('replaceGroup reports added, changed and removed keys, and counts entries', () => {
    const s = new MapState();
    s.set(key(7, 1), allow('old'));
    s.set(key(7, 2), allow('same'));
    s.set(key(7, 3), allow('gone'));
    const next = new MapState();
    next.set(key(7, 1), allow('new'));
    next.set(key(7, 2), allow('same'));
    next.set(key(7, 4), allow('added'));
    const sink = { added: [] as MapStateRow[], changed: [] as MapStateRow[], removed: [] as MapStateRow[] };
    s.replaceGroup(14, next.groupAt(14), sink);
    const ports = (rows: MapStateRow[]) => rows.map((r) => r.key.port);
    expect([ports(sink.added), ports(sink.changed), ports(sink.removed)]).to.deep.equal([[4], [1], [3]]);
    expect(s.size).to.equal(3);
    s.replaceGroup(14, undefined, sink);
    expect(s.size).to.equal(0);
    expect(ports(sink.removed)).to.deep.equal([3, 1, 2, 4]);
  });
});
