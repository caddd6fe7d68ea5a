// Peers outside the pod world, as the running agent resolves them: CIDR identities made by the policy
// feed for every prefix a policy names (toCIDR, toCIDRSet with except, NetworkPolicy ipBlock, CIDR
// groups), the reserved identities and the ipcache rows of nodes, the apiserver and the default world
// prefix; decided by the real endpoint program under BPF_PROG_TEST_RUN. Nothing is injected: the
// identities are the ones the feed allocates.
import { expect } from 'chai';
import { isLocalIdentity, ReservedIdentity } from '../../identity/numeric.ts';
import { FeedHarness, freshHarnessPerTest, WORLD } from './support/feed-harness.ts';

const cnp = (name: string, spec: object) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'default', uid: `u-${name}` },
  spec: { endpointSelector: { matchLabels: { app: WORLD.self.app } }, ...spec },
});
const port80 = [{ ports: [{ port: '80', protocol: 'TCP' }] }];

describe('agent: CIDR identities, reserved identities and entities in the kernel', function () {
  const t = freshHarnessPerTest();

  it('toCIDRSet with except and a nested toCIDR allow; an egressDeny on a prefix inside wins over both', () => {
    t.h.apply(cnp('cidrs', {
      egress: [{ toCIDRSet: [{ cidr: '198.51.100.0/24', except: ['198.51.100.128/25'] }], toPorts: port80 }, { toCIDR: ['198.51.100.0/28'] }],
      egressDeny: [{ toCIDR: ['198.51.100.7/32'] }],
    }));
    expect(t.h.probe('egress', '198.51.100.10', 80), 'inside the /24 and the /28').to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.10', 443), 'the /28 allows every port').to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.100', 80), 'inside the /24 only').to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.100', 443), 'the /24 allows port 80 only').to.equal('denied');
    expect(t.h.probe('egress', '198.51.100.200', 80), 'carved out by except').to.equal('denied');
    expect(t.h.probe('egress', '198.51.100.7', 80), 'the deny inside both allows').to.equal('deny-rule');
    expect(t.h.probe('egress', '203.0.113.1', 80), 'outside every prefix').to.equal('denied');
    expect(t.h.probe('egress', WORLD.server.ip, 80), 'a pod is never a CIDR peer').to.equal('denied');
    const rows = t.h.ipcacheRows();
    for (const p of ['198.51.100.0/24', '198.51.100.128/25', '198.51.100.0/28', '198.51.100.7/32']) {
      expect(isLocalIdentity(rows.get(p) ?? 0), `${p} has a node-local identity`).to.equal(true);
      expect(t.h.engine.selectorCache.identityLabels(rows.get(p)!)?.toStrings()).to.deep.equal([`cidr:${p}`, 'reserved:world']);
    }
  });

  it('an egressDeny with toCIDR fails closed next to an allow of the whole world', () => {
    t.h.apply(cnp('world-but', { egress: [{ toEntities: ['world'] }], egressDeny: [{ toCIDR: ['198.51.100.0/24'] }] }));
    expect(t.h.probe('egress', '198.51.100.9', 80)).to.equal('deny-rule');
    expect(t.h.probe('egress', '203.0.113.1', 80), 'world (the default prefix)').to.equal('allowed');
    // A second policy naming a prefix inside the denied one gives it its own identity: still denied.
    t.h.apply(cnp('narrow-allow', { egress: [{ toCIDR: ['198.51.100.0/30'] }] }));
    expect(t.h.probe('egress', '198.51.100.1', 80)).to.equal('deny-rule');
    expect(t.h.probe('egress', '198.51.100.9', 80)).to.equal('deny-rule');
  });

  it('NetworkPolicy ipBlock with except, egress and ingress', () => {
    t.h.apply({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'ipblock', namespace: 'default', uid: 'u-knp' },
      spec: {
        podSelector: { matchLabels: { app: WORLD.self.app } }, policyTypes: ['Ingress', 'Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24', except: ['192.0.2.64/26'] } }], ports: [{ port: 80, protocol: 'TCP' }] }],
        ingress: [{ from: [{ ipBlock: { cidr: '192.0.2.0/25', except: ['192.0.2.0/28'] } }] }],
      },
    });
    expect(t.h.probe('egress', '192.0.2.10', 80)).to.equal('allowed');
    expect(t.h.probe('egress', '192.0.2.70', 80), 'except').to.equal('denied');
    expect(t.h.probe('egress', '192.0.2.10', 81), 'other port').to.equal('denied');
    expect(t.h.probe('ingress', '192.0.2.20', 8080)).to.equal('allowed');
    expect(t.h.probe('ingress', '192.0.2.5', 8080), 'except').to.equal('denied');
    expect(t.h.probe('ingress', '192.0.2.200', 8080), 'outside the /25').to.equal('denied');
  });

  it('entities: world, cluster, host, remote-node and kube-apiserver with upstream meaning', () => {
    t.h.apply(cnp('ents', { egress: [{ toEntities: ['world'], toPorts: [{ ports: [{ port: '1001' }] }] }, { toEntities: ['cluster'], toPorts: [{ ports: [{ port: '1002' }] }] },
      { toEntities: ['host'], toPorts: [{ ports: [{ port: '1003' }] }] }, { toEntities: ['remote-node'], toPorts: [{ ports: [{ port: '1004' }] }] },
      { toEntities: ['kube-apiserver'], toPorts: [{ ports: [{ port: '1005' }] }] }, { toCIDR: ['198.51.100.0/24'], toPorts: [{ ports: [{ port: '1006' }] }] }] }));
    const peers = { outside: '203.0.113.1', cidr: '198.51.100.1', pod: WORLD.server.ip, host: WORLD.node, remote: WORLD.remoteNode, apiserver: WORLD.apiserver };
    const allowedOn = (port: number) => Object.entries(peers).filter(([, ip]) => t.h.probe('egress', ip, port) === 'allowed').map(([k]) => k);
    expect(allowedOn(1001), 'world: outside addresses, CIDR identities included').to.deep.equal(['outside', 'cidr']);
    expect(allowedOn(1002), 'cluster: pods, nodes and the apiserver').to.deep.equal(['pod', 'host', 'remote', 'apiserver']);
    expect(allowedOn(1003)).to.deep.equal(['host']);
    expect(allowedOn(1004)).to.deep.equal(['remote']);
    expect(allowedOn(1005)).to.deep.equal(['apiserver']);
    expect(allowedOn(1006)).to.deep.equal(['cidr']);
    expect(t.h.ipcacheRows().get('0.0.0.0/0')).to.equal(ReservedIdentity.world);
  });

  it('fromEntities all and an ingressDeny on world; the host reaches the pod (allow-localhost)', () => {
    t.h.apply(cnp('lockdown', { ingress: [{ fromEntities: ['all'] }], ingressDeny: [{ fromEntities: ['world'] }] }));
    expect(t.h.probe('ingress', '203.0.113.1', 80)).to.equal('deny-rule');
    expect(t.h.probe('ingress', WORLD.server.ip, 80)).to.equal('allowed');
    expect(t.h.probe('ingress', WORLD.remoteNode, 80)).to.equal('allowed');
    expect(t.h.probe('ingress', WORLD.node, 80)).to.equal('allowed');
  });

  it('icmps: an echo rule to a CIDR admits echo requests, not other types', () => {
    t.h.apply(cnp('ping', { egress: [{ toCIDR: ['198.51.100.0/24'], icmps: [{ fields: [{ type: 'EchoRequest', family: 'IPv4' }] }] }] }));
    expect(t.h.probe('egress', '198.51.100.1', 0, 'icmp', 8)).to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.1', 0, 'icmp', 13)).to.equal('denied');
    expect(t.h.probe('egress', '203.0.113.1', 0, 'icmp', 8)).to.equal('denied');
  });

  it('releases CIDR identities and their ipcache rows once no policy names them', () => {
    t.h.apply(cnp('a', { egress: [{ toCIDR: ['198.51.100.0/24', '192.0.2.0/24'] }] }));
    t.h.apply(cnp('b', { egress: [{ toCIDR: ['198.51.100.0/24'] }] }));
    const id = t.h.ipcacheRows().get('198.51.100.0/24')!;
    t.h.feed.deletePolicy('CiliumNetworkPolicy', 'default', 'a');
    expect(t.h.ipcacheRows().get('198.51.100.0/24'), 'still named by b: same identity').to.equal(id);
    expect(t.h.ipcacheRows().has('192.0.2.0/24')).to.equal(false);
    t.h.feed.deletePolicy('CiliumNetworkPolicy', 'default', 'b');
    expect([...t.h.ipcacheRows().values()].filter(isLocalIdentity)).to.deep.equal([]);
    expect(t.h.engine.selectorCache.identityLabels(id)).to.equal(undefined);
    // A freed number is not handed out again soon (flows and conntrack entries may still name it).
    t.h.apply(cnp('c', { egress: [{ toCIDR: ['203.0.113.0/24'] }] }));
    expect(t.h.ipcacheRows().get('203.0.113.0/24')).to.not.equal(id);
  });

  it('keeps the numbers an earlier agent left in the kernel (restart)', () => {
    t.h.apply(cnp('a', { egress: [{ toCIDR: ['198.51.100.0/24', '192.0.2.0/24'] }] }));
    const before = t.h.ipcacheRows();
    const h2 = new FeedHarness(2);
    try {
      h2.feed.cidrs.restore([...before].filter(([, id]) => isLocalIdentity(id)).reverse());
      h2.apply(cnp('a', { egress: [{ toCIDR: ['192.0.2.0/24', '198.51.100.0/24'] }] }));
      expect(h2.ipcacheRows().get('198.51.100.0/24')).to.equal(before.get('198.51.100.0/24'));
      expect(h2.ipcacheRows().get('192.0.2.0/24')).to.equal(before.get('192.0.2.0/24'));
    } finally {
      h2.close();
    }
  });

  it('CIDR groups: cidrGroupRef and cidrGroupSelector follow the group, and a change re-selects at once', () => {
    t.h.feed.setCidrGroup('partners', { labels: { tier: 'partner' }, cidrs: ['198.51.100.0/24'] });
    t.h.apply(cnp('by-ref', { egress: [{ toCIDRSet: [{ cidrGroupRef: 'partners', except: ['198.51.100.128/25'] }], toPorts: port80 }] }));
    t.h.apply(cnp('by-selector', { egress: [{ toCIDRSet: [{ cidrGroupSelector: { matchLabels: { tier: 'partner' } } }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }] }));
    expect(t.h.probe('egress', '198.51.100.1', 80)).to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.200', 80), 'except').to.equal('denied');
    expect(t.h.probe('egress', '198.51.100.200', 443), 'by selector').to.equal('allowed');
    expect(t.h.probe('egress', '192.0.2.1', 80)).to.equal('denied');
    t.h.feed.setCidrGroup('partners', { labels: { tier: 'partner' }, cidrs: ['192.0.2.0/24'] });
    expect(t.h.probe('egress', '192.0.2.1', 80), 'the new prefix').to.equal('allowed');
    expect(t.h.probe('egress', '192.0.2.1', 443), 'the new prefix, by selector').to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.1', 80), 'the old prefix').to.equal('denied');
    t.h.feed.setCidrGroup('partners', { labels: { tier: 'other' }, cidrs: ['192.0.2.0/24'] });
    expect(t.h.probe('egress', '192.0.2.1', 443), 'relabelled: the selector no longer matches').to.equal('denied');
    expect(t.h.probe('egress', '192.0.2.1', 80), 'the reference still does').to.equal('allowed');
    t.h.feed.setCidrGroup('partners', undefined);
    expect(t.h.probe('egress', '192.0.2.1', 80), 'the group is gone').to.equal('denied');
    const left = [...t.h.ipcacheRows()].filter(([, id]) => isLocalIdentity(id)).map(([p]) => p);
    expect(left, 'only the except prefix the policy names itself').to.deep.equal(['198.51.100.128/25']);
  });
});
