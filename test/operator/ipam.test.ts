// Unit tests of the pure IPAM pieces: prefixes, the CIDR-set allocator, pools, cluster-pool and multi-pool.
import { expect } from 'chai';
import fc from 'fast-check';
import { BlockPool } from '../../ipam/block-pool.ts';
import { contains, formatAddress, parseAddress, parsePrefix, formatPrefix } from '../../ipam/cidr.ts';
import { CidrSet } from '../../ipam/cidr-set.ts';
import { ClusterPoolAllocator } from '../../ipam/cluster-pool.ts';
import { MultiPoolAllocator } from '../../ipam/multi-pool.ts';
import { poolForPod } from '../../ipam/pool-selection.ts';

describe('ipam/cidr', () => {
  it('round-trips IPv4 and IPv6 prefixes', () => {
    for (const c of ['10.0.0.0/8', '192.168.1.0/24', 'fd00::/104', '2001:db8::/32', '::/0', 'fd00::1:0/112']) {
      expect(formatPrefix(parsePrefix(c))).to.equal(c);
    }
  });
  it('rejects host bits, bad lengths and non-addresses', () => {
    expect(() => parsePrefix('10.0.0.1/8')).to.throw(/host bits/);
    expect(() => parsePrefix('10.0.0.0/33')).to.throw(/prefix length/);
    expect(() => parsePrefix('nope/8')).to.throw(/not an IP/);
    expect(() => parsePrefix('10.0.0.0')).to.throw(/missing/);
  });
  it('formats IPv6 addresses in compressed form', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        expect(parseAddress(formatAddress('ipv6', v)).value).to.equal(v);
      }),
    );
  });
});

describe('ipam/CidrSet', () => {
  it('allocates every block once, then reports exhaustion', () => {
    const s = new CidrSet('10.0.0.0/28', 30);
    const got = [s.allocate(), s.allocate(), s.allocate(), s.allocate()];
    expect(got).to.deep.equal(['10.0.0.0/30', '10.0.0.4/30', '10.0.0.8/30', '10.0.0.12/30']);
    expect(s.exhausted()).to.equal(true);
    expect(s.allocate()).to.equal(undefined);
    expect(s.release('10.0.0.4/30')).to.equal(true);
    expect(s.exhausted()).to.equal(false);
    expect(s.allocate()).to.equal('10.0.0.4/30');
  });
  it('occupies given blocks and refuses foreign or taken ones', () => {
    const s = new CidrSet('fd00::/120', 124);
    expect(s.occupy('fd00::10/124')).to.equal(true);
    expect(s.occupy('fd00::10/124')).to.equal(false);
    expect(s.occupy('fd00::10/125')).to.equal(false);
    expect(s.occupy('fd01::/124')).to.equal(false);
    expect(s.allocate()).to.equal('fd00::/124');
    expect(s.allocate()).to.equal('fd00::20/124');
  });
  it('rejects a mask shorter than the CIDR', () => {
    expect(() => new CidrSet('10.0.0.0/16', 8)).to.throw(/does not fit/);
  });
  it('never hands out a block twice under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('a'), fc.integer({ min: 0, max: 15 })), { maxLength: 60 }), (ops) => {
        const s = new CidrSet('10.1.0.0/24', 28);
        const held = new Set<string>();
        for (const op of ops) {
          if (op === 'a') {
            const b = s.allocate();
            if (b === undefined) expect(held.size).to.equal(16);
            else {
              expect(held.has(b)).to.equal(false);
              held.add(b);
            }
          } else {
            const b = `10.1.0.${op * 16}/28`;
            expect(s.release(b)).to.equal(held.delete(b));
          }
          expect(s.allocated).to.equal(held.size);
        }
      }),
    );
  });
});

describe('ipam/BlockPool', () => {
  it('uses a CIDR added later once the first is full, and rejects overlaps', () => {
    const p = new BlockPool('p', 30, ['10.0.0.0/30']);
    expect(p.allocate('n1')).to.equal('10.0.0.0/30');
    expect(p.allocate('n2')).to.equal(undefined);
    expect(p.addCidrs(['10.0.0.0/30', '10.9.0.0/29'])).to.deep.equal(['10.9.0.0/29']);
    expect(p.allocate('n2')).to.equal('10.9.0.0/30');
    expect(() => p.addCidrs(['10.9.0.0/28'])).to.throw(/overlaps/);
    expect(() => p.addCidrs(['fd00::/120'])).to.throw(/not ipv4/);
  });
});

describe('ipam/ClusterPoolAllocator', () => {
  const cfg = { ipv4: { cidrs: ['10.0.0.0/29'], maskSize: 30 } };

  it('keeps what a node has, allocates when it has nothing, and reports exhaustion naming the setting', () => {
    const a = new ClusterPoolAllocator(cfg);
    a.seed([{ name: 'n1', podCIDRs: ['10.0.0.4/30'] }]);
    expect(a.assign('n1', ['10.0.0.4/30'])).to.include({ changed: false });
    const n2 = a.assign('n2', []);
    expect(n2.podCIDRs).to.deep.equal(['10.0.0.0/30']);
    expect(n2.allocated).to.deep.equal(['10.0.0.0/30']);
    const n3 = a.assign('n3', []);
    expect(n3.podCIDRs).to.deep.equal([]);
    expect(n3.error).to.match(/cluster-pool-ipv4-cidr/);
  });

  it('re-offers a block written but not yet observed instead of allocating another', () => {
    const a = new ClusterPoolAllocator(cfg);
    const first = a.assign('n1', []).podCIDRs;
    expect(a.assign('n1', []).podCIDRs).to.deep.equal(first);
    expect(a.pools.ipv4!.stats().allocated).to.equal(1);
  });

  it('leaves a contested block with the older node and reallocates the younger', () => {
    const a = new ClusterPoolAllocator(cfg);
    a.seed([
      { name: 'young', podCIDRs: ['10.0.0.0/30'], created: '2026-01-02T00:00:00Z' },
      { name: 'old', podCIDRs: ['10.0.0.0/30'], created: '2026-01-01T00:00:00Z' },
    ]);
    expect(a.assign('old', ['10.0.0.0/30']).changed).to.equal(false);
    expect(a.assign('young', ['10.0.0.0/30']).podCIDRs).to.deep.equal(['10.0.0.4/30']);
  });

  it('releases a deleted node’s blocks for reuse and keeps CIDRs outside the pool', () => {
    const a = new ClusterPoolAllocator(cfg);
    a.assign('n1', []);
    a.assign('n2', []);
    expect(a.release('n1')).to.deep.equal(['10.0.0.0/30']);
    expect(a.assign('n3', []).podCIDRs).to.deep.equal(['10.0.0.0/30']);
    expect(a.assign('legacy', ['192.168.0.0/24']).podCIDRs).to.deep.equal(['192.168.0.0/24']);
  });

  it('serves both families', () => {
    const a = new ClusterPoolAllocator({ ...cfg, ipv6: { cidrs: ['fd00::/120'], maskSize: 124 } });
    expect(a.assign('n1', []).podCIDRs).to.deep.equal(['10.0.0.0/30', 'fd00::/124']);
  });
});

describe('ipam/MultiPoolAllocator and pool selection', () => {
  it('picks the pod annotation, else the namespace annotation, else default', () => {
    const ann = (v?: string) => ({ metadata: { annotations: (v ? { 'ipam.cilium.io/ip-pool': v } : {}) as Record<string, string> } });
    expect(poolForPod(ann('green'), ann('blue'))).to.equal('green');
    expect(poolForPod(ann(), ann('blue'))).to.equal('blue');
    expect(poolForPod(ann(), undefined)).to.equal('default');
  });

  it('gives enough blocks for the addresses needed, releases unneeded pools, and reports unknown ones', () => {
    const m = new MultiPoolAllocator();
    expect(m.upsertPool('default', { ipv4: { cidrs: ['10.0.0.0/24'], maskSize: 28 } })).to.equal(undefined);
    const first = m.assign('n1', new Map([['default', 20], ['nope', 1]]), []);
    expect(first.allocated).to.deep.equal([{ pool: 'default', cidrs: ['10.0.0.0/28', '10.0.0.16/28'] }]);
    expect(first.errors).to.deep.equal(['CiliumPodIPPool nope does not exist']);
    const none = m.assign('n1', new Map(), first.allocated);
    expect(none.allocated).to.deep.equal([]);
    // Next-fit: released blocks are reused only after the rest of the range.
    expect(m.assign('n2', new Map([['default', 1]]), []).allocated[0]!.cidrs).to.deep.equal(['10.0.0.32/28']);
    expect(m.stats()[0]).to.include({ pool: 'default', allocated: 1, capacity: 16 });
    expect(m.upsertPool('default', { ipv4: { cidrs: ['10.0.0.0/24'], maskSize: 27 } })).to.match(/maskSize cannot change/);
  });

  it('keeps seeded blocks with their nodes', () => {
    const m = new MultiPoolAllocator();
    m.upsertPool('p', { ipv4: { cidrs: ['10.0.0.0/30'], maskSize: 31 } });
    m.seed([{ name: 'n1', allocated: [{ pool: 'p', cidrs: ['10.0.0.0/31'] }] }]);
    const n2 = m.assign('n2', new Map([['p', 1]]), []);
    expect(n2.allocated[0]!.cidrs).to.deep.equal(['10.0.0.2/31']);
    expect(m.assign('n3', new Map([['p', 1]]), []).errors[0]).to.match(/CiliumPodIPPool p/);
    expect(contains(parsePrefix('10.0.0.0/30'), parsePrefix(n2.allocated[0]!.cidrs[0]!))).to.equal(true);
  });
});
