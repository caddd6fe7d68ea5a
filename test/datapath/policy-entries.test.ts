// Pure tests of rule -> LPM entry expansion (no kernel needed).
import { expect } from 'chai';
import fc from 'fast-check';
import { policyEntries, portRangeToPrefixes } from '../../datapath/maps/policy.ts';

function covered(prefixes: Array<{ port: number; bits: number }>): Set<number> {
  const s = new Set<number>();
  for (const { port, bits } of prefixes) for (let p = port; p < port + 2 ** (16 - bits); p++) s.add(p);
  return s;
}

describe('policy entries', function () {
  it('splits port ranges into exactly covering aligned prefixes', function () {
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 2000 }), (lo, span) => {
      const hi = Math.min(65535, lo + span);
      const prefixes = portRangeToPrefixes(lo, hi);
      for (const { port, bits } of prefixes) expect(port % 2 ** (16 - bits)).to.equal(0);
      const s = covered(prefixes);
      expect(s.size).to.equal(hi - lo + 1);
      expect(Math.min(...s)).to.equal(lo);
      expect(Math.max(...s)).to.equal(hi);
    }), { numRuns: 200 });
    expect(portRangeToPrefixes(0, 65535)).to.deep.equal([{ port: 0, bits: 0 }]);
  });

  it('sets prefix lengths for L3-only, protocol-only and port rules', function () {
    const [l3] = policyEntries({ direction: 'egress', identity: 5, protocol: 0, entryId: 1 });
    expect(l3![0]).to.deep.equal({ prefixlen: 40, secLabel: 5, egress: 1, protocol: 0, dport: 0 });
    const [proto] = policyEntries({ direction: 'ingress', identity: 0, protocol: 17, entryId: 2, deny: true });
    expect(proto![0].prefixlen).to.equal(48);
    expect(proto![1]).to.deep.equal({ proxyPort: 0, flags: 1, prefixLen: 8, entryId: 2 });
    const [port] = policyEntries({ direction: 'ingress', identity: 0, protocol: 6, port: 80, proxyPort: 15001, entryId: 3 });
    expect(port![0].prefixlen).to.equal(64);
    expect(port![1].proxyPort).to.equal(15001);
    expect(() => policyEntries({ direction: 'ingress', identity: 0, protocol: 0, port: 80, entryId: 4 })).to.throw(/protocol/);
  });
});
