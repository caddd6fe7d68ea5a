// Masquerade rules: pod-to-pod and `ipv4-native-routing-cidr` destinations keep the pod's address,
// everything else this node's pods send leaves with the node's.
import { expect } from 'chai';
import type { V1Node } from '@kubernetes/client-node';
import { masqueradeRules } from '../../agent/masquerade.ts';
import type { CacheReader } from '../../runtime/informer.ts';

/** A synced cache holding `nodes`. */
function cache(nodes: V1Node[]): CacheReader<V1Node> {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
  return {
    get: (k) => byName.get(k), list: () => [...byName.values()], keys: () => [...byName.keys()],
    hasSynced: () => true, waitForSync: async () => true,
  };
}

const node = (name: string, podCIDR: string): V1Node => ({ metadata: { name }, spec: { podCIDR, podCIDRs: [podCIDR] } });

describe('masquerade rules', () => {
  const nodes = cache([node('a', '10.244.0.0/24'), node('b', '10.244.1.0/24')]);

  it('returns for every node pod CIDR, then masquerades', () => {
    expect(masqueradeRules('a', nodes)).to.deep.equal([
      '-s 10.244.0.0/24 -d 10.244.0.0/24 -m comment --comment "cilium pod-to-pod: no masquerade" -j RETURN',
      '-s 10.244.0.0/24 -d 10.244.1.0/24 -m comment --comment "cilium pod-to-pod: no masquerade" -j RETURN',
      '-s 10.244.0.0/24 ! -o lo -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE',
    ]);
  });

  it('also returns for the native routing CIDR, before masquerading', () => {
    const rules = masqueradeRules('a', nodes, undefined, '10.244.0.0/15');
    expect(rules).to.have.length(4);
    expect(rules[2]).to.equal('-s 10.244.0.0/24 -d 10.244.0.0/15 -m comment --comment "cilium native routing CIDR: no masquerade" -j RETURN');
    expect(rules[3]).to.contain('-j MASQUERADE');
  });
});
