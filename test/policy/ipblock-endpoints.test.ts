// NetworkPolicy ipBlock selecting pods by address (`policy-cidr-match-mode` pods): an identity is
// selected when every address of its endpoints is inside the block and outside its excepts; off by
// default (upstream selects only CIDR identities), and address changes re-select at once.
import { expect } from 'chai';
import { IdentityAddressIndex } from '../../agent/endpoint-addresses.ts';
import { SelectorCache } from '../../policy/selector-cache.ts';
import type { CidrSelectorSpec } from '../../policy/api/model.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { podLabels } from './support/world.ts';

const BLOCK: CidrSelectorSpec = { kind: 'cidr', cidr: '10.244.1.0/24', except: ['10.244.1.9/32'], endpointAddresses: true };

describe('ipBlock selecting endpoints by address', () => {
  it('the NetworkPolicy parser marks ipBlock peers, Cilium toCIDR peers are not', () => {
    const np = parsePolicy({
      kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'x' },
      spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.244.1.0/24', except: ['10.244.1.9/32'] } }] }] },
    });
    const peers = np.rules.flatMap((r) => r.peerRules.flatMap((pr) => pr.peers));
    expect(peers).to.deep.include(BLOCK);
    const cnp = parsePolicy({
      kind: 'CiliumNetworkPolicy', metadata: { name: 'cnp', namespace: 'x' },
      spec: { endpointSelector: {}, egress: [{ toCIDRSet: [{ cidr: '10.244.1.0/24' }] }] },
    });
    expect(cnp.rules.flatMap((r) => r.peerRules.flatMap((pr) => pr.peers))).to.deep.include({ kind: 'cidr', cidr: '10.244.1.0/24', except: [] });
  });

  it('selects an identity whose every address is inside and none excepted; follows address changes', () => {
    const c = new SelectorCache({ cidrMatchesEndpoints: true });
    c.updateIdentities([[1001, podLabels('x', { pod: 'a' })], [1002, podLabels('x', { pod: 'b' })], [1003, podLabels('x', { pod: 'c' })]]);
    c.setIdentityAddresses([[1001, ['10.244.1.5']], [1002, ['10.244.1.9']], [1003, ['10.244.1.6', '10.244.2.6']]]);
    const events: [readonly number[], readonly number[]][] = [];
    const { key, selections } = c.addSelector(BLOCK, (_k, added, removed) => events.push([added, removed]));
    expect(selections, 'a inside; b excepted; c has an address outside').to.deep.equal([1001]);
    c.setIdentityAddresses([[1003, ['10.244.1.6']], [1001, []]]);
    expect(c.selections(key)).to.deep.equal([1003]);
    expect(events).to.deep.equal([[[1003], [1001]]]);
  });

  it('is off by default: pods are never CIDR-selected, as upstream', () => {
    const c = new SelectorCache();
    c.updateIdentities([[1001, podLabels('x', { pod: 'a' })]]);
    c.setIdentityAddresses([[1001, ['10.244.1.5']]]);
    expect(c.addSelector(BLOCK, () => undefined).selections).to.deep.equal([]);
  });
});

describe('identity addresses from CiliumEndpoints', () => {
  it('reports each identity whose addresses changed with all of them, and nothing when nothing changed', () => {
    const index = new IdentityAddressIndex();
    expect(index.set('ns/a', { identity: 1, ips: ['10.0.0.2'] })).to.deep.equal([[1, ['10.0.0.2']]]);
    expect(index.set('ns/b', { identity: 1, ips: ['10.0.0.1'] })).to.deep.equal([[1, ['10.0.0.1', '10.0.0.2']]]);
    expect(index.set('ns/b', { identity: 1, ips: ['10.0.0.1'] })).to.deep.equal([]);
    expect(index.set('ns/a', { identity: 2, ips: ['10.0.0.2'] })).to.deep.equal([[1, ['10.0.0.1']], [2, ['10.0.0.2']]]);
    expect(index.set('ns/b', undefined)).to.deep.equal([[1, []]]);
    expect(index.set('ns/b', undefined)).to.deep.equal([]);
  });
});
