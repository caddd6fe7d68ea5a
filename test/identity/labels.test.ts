// Labels, the identity-relevant filter, pod labels, numeric identities and CIDR labels.
import { expect } from 'chai';
import { cidrIdentityLabels, formatPrefix, parsePrefix, prefixContains } from '../../identity/cidr.ts';
import { LabelFilter } from '../../identity/label-filter.ts';
import { LabelSet, formatLabel, parseLabel } from '../../identity/labels.ts';
import { LocalIdentityAllocator } from '../../identity/local-allocator.ts';
import {
  IDENTITY_SCOPE_LOCAL, MIN_CLUSTER_IDENTITY, ReservedIdentity, clusterIdOf, clusterIdentityRange, isLocalIdentity, reservedName,
} from '../../identity/numeric.ts';
import { sanitizePodLabels } from '../../identity/pod-labels.ts';
import { lookupReservedIdentity, reservedIdentityLabels } from '../../identity/reserved-labels.ts';

describe('labels', () => {
  it('parses and formats source:key=value', () => {
    expect(parseLabel('k8s:app=web')).to.deep.equal({ source: 'k8s', key: 'app', value: 'web' });
    expect(parseLabel('app=web', 'any')).to.deep.equal({ source: 'any', key: 'app', value: 'web' });
    expect(parseLabel('reserved:host')).to.deep.equal({ source: 'reserved', key: 'host', value: '' });
    expect(parseLabel('cidr:fd00--1/64')).to.deep.equal({ source: 'cidr', key: 'fd00--1/64', value: '' });
    expect(parseLabel('foo:bar=1', 'k8s')).to.deep.equal({ source: 'k8s', key: 'foo:bar', value: '1' });
    expect(formatLabel({ source: 'k8s', key: 'app', value: 'web' })).to.equal('k8s:app=web');
  });
  it('label sets are sorted and compare by content', () => {
    const a = LabelSet.parse(['k8s:b=1', 'k8s:a=2', 'reserved:host']);
    const b = LabelSet.parse(['reserved:host', 'k8s:a=2', 'k8s:b=1']);
    expect(a.toStrings()).to.deep.equal(['k8s:a=2', 'k8s:b=1', 'reserved:host']);
    expect(a.equals(b)).to.equal(true);
    expect(a.find('any', 'a')).to.have.length(1);
  });
});

describe('identity-relevant label filter', () => {
  const f = new LabelFilter();
  const table: [string, boolean][] = [
    ['k8s:app=web', true],
    ['k8s:io.kubernetes.pod.namespace=default', true],
    ['k8s:io.cilium.k8s.namespace.labels.team=a', true],
    ['k8s:io.cilium.k8s.policy.serviceaccount=sa', true],
    ['k8s:io.cilium.k8s.policy.cluster=default', true],
    ['k8s:app.kubernetes.io/name=web', true],
    ['reserved:host', true],
    ['k8s:pod-template-hash=abc', false],
    ['k8s:controller-revision-hash=1', false],
    ['k8s:statefulset.kubernetes.io/pod-name=db-0', false],
    ['k8s:io.kubernetes.container.name=x', false],
    ['k8s:kubernetes.io/hostname=n1', false],
    ['k8s:failure-domain.beta.kubernetes.io/zone=a', false],
    ['k8s:k8s.io/thing=1', false],
    ['k8s:annotation.foo=1', false],
    ['k8s:batch.kubernetes.io/job-completion-index=0', false],
  ];
  for (const [l, want] of table) it(`${want ? 'keeps' : 'drops'} ${l}`, () => expect(f.accepts(parseLabel(l))).to.equal(want));

  it('with a user include, only included labels (and the defaults) count', () => {
    const g = new LabelFilter(['k8s:app']);
    expect(g.accepts(parseLabel('k8s:app=web'))).to.equal(true);
    expect(g.accepts(parseLabel('k8s:team=a'))).to.equal(false);
    expect(g.accepts(parseLabel('k8s:io.kubernetes.pod.namespace=x'))).to.equal(true);
    expect(g.accepts(parseLabel('reserved:host'))).to.equal(true);
  });
  it('a user exclude drops a label', () => {
    const g = new LabelFilter(['!k8s:team']);
    expect(g.accepts(parseLabel('k8s:team=a'))).to.equal(false);
    expect(g.accepts(parseLabel('k8s:app=web'))).to.equal(true);
  });
  it('splits a set into identity and informational labels', () => {
    const { identity, informational } = f.filter(LabelSet.parse(['k8s:app=web', 'k8s:pod-template-hash=1']));
    expect(identity.toStrings()).to.deep.equal(['k8s:app=web']);
    expect(informational.toStrings()).to.deep.equal(['k8s:pod-template-hash=1']);
  });
});

describe('pod labels', () => {
  it('adds namespace, namespace labels, service account, cluster and strips spoofed ones', () => {
    const ls = sanitizePodLabels({
      namespace: 'prod', podLabels: { app: 'web', 'io.kubernetes.pod.namespace': 'kube-system', 'io.cilium.k8s.policy.serviceaccount': 'admin' },
      namespaceLabels: { team: 'a' }, serviceAccount: 'web-sa', clusterName: 'c1',
    });
    expect(ls.toStrings()).to.deep.equal([
      'k8s:app=web', 'k8s:io.cilium.k8s.namespace.labels.team=a', 'k8s:io.cilium.k8s.policy.cluster=c1',
      'k8s:io.cilium.k8s.policy.serviceaccount=web-sa', 'k8s:io.kubernetes.pod.namespace=prod',
    ]);
  });
  it('defaults the cluster name and omits an unset service account', () => {
    expect(sanitizePodLabels({ namespace: 'n', podLabels: {} }).toStrings()).to.deep.equal([
      'k8s:io.cilium.k8s.policy.cluster=default', 'k8s:io.kubernetes.pod.namespace=n',
    ]);
  });
});

describe('numeric identities', () => {
  it('reserved numbers as upstream', () => {
    expect(ReservedIdentity).to.include({ host: 1, world: 2, unmanaged: 3, health: 4, init: 5, 'remote-node': 6, 'kube-apiserver': 7, ingress: 8, 'world-ipv4': 9, 'world-ipv6': 10 });
    expect(reservedName(6)).to.equal('remote-node');
    expect(MIN_CLUSTER_IDENTITY).to.equal(256);
  });
  it('reserved label sets map to their numbers', () => {
    expect(lookupReservedIdentity(reservedIdentityLabels('host'))).to.equal(1);
    expect(lookupReservedIdentity(LabelSet.parse(['reserved:host', 'k8s:a=b']))).to.equal(undefined);
    expect(reservedIdentityLabels('world-ipv4').toStrings()).to.deep.equal(['reserved:world', 'reserved:world-ipv4']);
  });
  it('cluster ranges and scope bits', () => {
    expect(clusterIdentityRange(0)).to.deep.equal({ min: 256, max: 65535 });
    expect(clusterIdentityRange(3)).to.deep.equal({ min: 3 << 16, max: (4 << 16) - 1 });
    expect(clusterIdOf((5 << 16) + 300)).to.equal(5);
    expect(isLocalIdentity(IDENTITY_SCOPE_LOCAL + 1)).to.equal(true);
    expect(isLocalIdentity(300)).to.equal(false);
  });
  it('node-local allocator uses the local scope and reference counts', () => {
    const a = new LocalIdentityAllocator();
    const ls = cidrIdentityLabels(parsePrefix('10.0.0.0/8')!);
    const first = a.allocate(ls);
    expect(first).to.deep.equal({ id: 16777217, isNew: true });
    expect(a.allocate(ls)).to.deep.equal({ id: 16777217, isNew: false });
    expect(a.release(first.id)).to.equal(false);
    expect(a.release(first.id)).to.equal(true);
    expect(a.lookup(first.id)).to.equal(undefined);
  });
});

describe('CIDR labels', () => {
  it('canonicalises prefixes and writes IPv6 colons as dashes', () => {
    expect(formatPrefix(parsePrefix('10.1.2.3/8')!)).to.equal('10.0.0.0/8');
    expect(cidrIdentityLabels(parsePrefix('fd00::1/128')!).toStrings()).to.deep.equal(['cidr:fd00--1/128', 'reserved:world']);
    expect(cidrIdentityLabels(parsePrefix('1.2.3.4')!, true).toStrings()).to.deep.equal(['cidr:1.2.3.4/32', 'reserved:world-ipv4']);
  });
  it('containment', () => {
    expect(prefixContains(parsePrefix('10.0.0.0/8')!, parsePrefix('10.1.0.0/16')!)).to.equal(true);
    expect(prefixContains(parsePrefix('10.1.0.0/16')!, parsePrefix('10.0.0.0/8')!)).to.equal(false);
    expect(prefixContains(parsePrefix('::/0')!, parsePrefix('10.0.0.0/8')!)).to.equal(false);
    expect(parsePrefix('10.0.0.0/33')).to.equal(undefined);
    expect(parsePrefix('nope')).to.equal(undefined);
  });
});
