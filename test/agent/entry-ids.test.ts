// Provenance of kernel policy entries: an entry id freed by a policy change keeps naming its rule and
// is not handed out again while others are free; a restarted agent keeps the ids the kernel holds.
import { expect } from 'chai';
import { EntryIds } from '../../agent/entry-ids.ts';
import { EndpointPolicyMap } from '../../agent/policy-map-sync.ts';
import type { MapStateRow } from '../../policy/mapstate-types.ts';
import { requireBpf } from '../datapath/support/env.ts';
import { FeedHarness } from './support/feed-harness.ts';

const row = (identity: number, name: string): MapStateRow => ({
  key: { direction: 'egress', identity, protocol: 6, port: 80, portPrefixLen: 16 },
  entry: { deny: false, proxyPort: 0, derivedFrom: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name, ruleIndex: 0 }] },
});

describe('agent: entry ids keep naming the rule that decided', function () {
  it('a freed id still explains its old rule and is reused only after every other id (oldest first)', () => {
    const ids = new EntryIds(5);
    const a = ids.assign(row(1000, 'a'));
    const b = ids.assign(row(1001, 'b'));
    ids.release(row(1000, 'a').key);
    expect(ids.row(a)?.entry.derivedFrom[0]?.name, 'the conntrack entry of a flow a admitted is still explained by a').to.equal('a');
    const c = ids.assign(row(1002, 'c'));
    expect(c, 'a fresh id, not the one just freed').to.not.equal(a);
    ids.release(row(1001, 'b').key);
    ids.assign(row(1003, 'd'));
    expect(ids.assign(row(1004, 'e')), 'ids exhausted: the oldest freed comes back').to.equal(a);
    expect(ids.assign(row(1005, 'f'))).to.equal(b);
    expect(() => ids.assign(row(1006, 'g'))).to.throw(RangeError);
  });

  it('a restarted agent\'s replace() keeps the ids the kernel map holds for the same keys', function () {
    requireBpf(this);
    const h = new FeedHarness();
    try {
      const rows = [row(1000, 'a'), row(1001, 'b'), row(1002, 'c')];
      const first = new EndpointPolicyMap(h.ep.maps.policy);
      first.replace(rows);
      first.apply({ added: [], changed: [], removed: [rows[0]!] });
      const before = new Map(h.ep.maps.policy.entries().map(([k, v]) => [k.secLabel, v.entryId]));
      const restarted = new EndpointPolicyMap(h.ep.maps.policy);
      restarted.replace([rows[2]!, rows[1]!]);
      const after = new Map(h.ep.maps.policy.entries().map(([k, v]) => [k.secLabel, v.entryId]));
      expect(after.get(1001)).to.equal(before.get(1001));
      expect(after.get(1002)).to.equal(before.get(1002));
    } finally {
      h.close();
    }
  });
});
