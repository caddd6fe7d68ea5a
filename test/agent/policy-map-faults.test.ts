// Faults on a real BPF policy map: filled to capacity (the rows that do not fit are held pending, not
// errors, naming the map; no exception, what the kernel enforces stays, freed room goes to the waiting rows), and an
// agent killed between a table change and its kernel write (the next agent converges from the pins).
import { expect } from 'chai';
import { EntryIds } from '../../agent/entry-ids.ts';
import { EndpointPolicyMap } from '../../agent/policy-map-sync.ts';
import type { MapStateRow } from '../../policy/mapstate-types.ts';
import { requireBpf } from '../datapath/support/env.ts';
import { FeedHarness } from './support/feed-harness.ts';

const row = (identity: number, deny = false): MapStateRow => ({
  key: { direction: 'ingress', identity, protocol: 6, port: 443, portPrefixLen: 16 },
  entry: { deny, proxyPort: 0, derivedFrom: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: `p${identity}`, ruleIndex: 0 }] },
});

describe('agent: policy map faults', function () {
  let h: FeedHarness;
  before(function () {
    requireBpf(this);
  });
  beforeEach(() => (h = new FeedHarness()));
  afterEach(() => h?.close());

  it('holds the rows that do not fit pending (not in error), keeps what is enforced, and writes them when room frees up', async () => {
    // bpf-policy-map-max of 4: ids 1..3.
    const pm = new EndpointPolicyMap(h.ep.maps.policy, new EntryIds(4), { name: 'cilium_policy_v2_00001' });
    const identities = () => h.ep.maps.policy.entries().map(([k]) => k.secLabel).sort();
    pm.replace([row(1000), row(1001)]);
    expect(identities()).to.deep.equal([1000, 1001]);
    const rows = [row(1002), row(1003), row(1004)];
    expect(() => pm.apply({ added: rows, changed: [], removed: [] })).to.not.throw();
    expect(identities()).to.deep.equal([1000, 1001, 1002]);
    // Nothing refused them: they wait for an entry id, counted pending, and error counts stay for real failures.
    expect(pm.errors()).to.deep.equal([]);
    const waiting = pm.notWritten();
    expect(waiting.map((e) => e.origin)).to.deep.equal(['CiliumNetworkPolicy/default/p1003', 'CiliumNetworkPolicy/default/p1004']);
    const why = 'an entry id: cilium_policy_v2_00001 full, bpf-policy-map-max allows 3 entries for this endpoint';
    for (const e of waiting) expect(e.message).to.equal(`waiting for ${why}`);
    for (const r of pm.table.held()) expect(r.status).to.deep.equal({ kind: 'pending', waitingFor: why });
    expect(pm.table.counts()).to.deep.equal({ rows: 5, pending: 2, error: 0 });
    // Read-your-writes does not wait for rows that cannot be written yet.
    expect(await pm.reconciler.waitUntilReconciled(pm.table)).to.deep.equal([]);
    // A refresh keeps the kernel as it is: nothing to prune, nothing it can repair.
    expect(pm.reconcile()).to.deep.equal({ repaired: 0, pruned: 0 });
    // A policy change frees two ids: the waiting rows take them.
    pm.apply({ added: [], changed: [], removed: [row(1000), row(1001)] });
    expect(identities()).to.deep.equal([1002, 1003, 1004]);
    expect(pm.notWritten()).to.deep.equal([]);
    expect(pm.table.counts()).to.deep.equal({ rows: 3, pending: 0, error: 0 });
    pm.close();
  });

  it('gives deny rows room before allow rows, so an overflow never loses a deny', () => {
    const pm = new EndpointPolicyMap(h.ep.maps.policy, new EntryIds(3), { name: 'cilium_policy_v2_00001' });
    pm.apply({ added: [row(3000), row(3001), row(3002, true), row(3003, true)], changed: [], removed: [] });
    const written = h.ep.maps.policy.entries().filter(([k]) => k.secLabel >= 3000).map(([k, v]) => `${k.secLabel}${v.flags ? ' deny' : ''}`).sort();
    expect(written).to.deep.equal(['3002 deny', '3003 deny']);
    expect(pm.notWritten().map((e) => e.origin).sort()).to.deep.equal(['CiliumNetworkPolicy/default/p3000', 'CiliumNetworkPolicy/default/p3001']);
    pm.close();
  });

  it('an agent killed between a table change and its kernel write converges when the next one starts', () => {
    const first = new EndpointPolicyMap(h.ep.maps.policy);
    first.replace([row(2000), row(2001)]);
    // The change reaches the table, then the agent dies before its reconciler writes it.
    first.reconciler.disable();
    first.apply({ added: [row(2002, true)], changed: [], removed: [row(2000)] });
    expect(first.table.counts()).to.include({ pending: 2 });
    const kernel = () => h.ep.maps.policy.entries().map(([k, v]) => `${k.secLabel}${v.flags ? ' deny' : ''}`).sort();
    expect(kernel()).to.deep.equal(['2000', '2001']);
    // The restarted agent recomputes the endpoint's state and replaces the map from it.
    const next = new EndpointPolicyMap(h.ep.maps.policy);
    expect(next.replace([row(2001), row(2002, true)])).to.deep.equal({ repaired: 0, pruned: 1 });
    expect(kernel()).to.deep.equal(['2001', '2002 deny']);
    expect(next.table.counts()).to.deep.equal({ rows: 2, pending: 0, error: 0 });
    next.close();
  });
});
