// The selector cache: one entry per distinct selector, sorted selections, incremental updates.
import { expect } from 'chai';
import { cidrGroupIdentityLabels, cidrIdentityLabels, parsePrefix } from '../../identity/cidr.ts';
import { LabelSet } from '../../identity/labels.ts';
import { labelSelector, requirement } from '../../policy/api/parse-selector.ts';
import { SelectorCache } from '../../policy/selector-cache.ts';
import { compileSelector } from '../../policy/selector-match.ts';
import { podLabels } from './support/world.ts';

describe('selector matching', () => {
  const web = podLabels('ns', { app: 'web', tier: 'front' });
  const table: { name: string; sel: Parameters<typeof compileSelector>[0]; labels: LabelSet; want: boolean }[] = [
    { name: 'any: source matches k8s label', sel: labelSelector([requirement('any', 'app', 'In', ['web'])]), labels: web, want: true },
    { name: 'k8s: source matches', sel: labelSelector([requirement('k8s', 'app', 'In', ['web'])]), labels: web, want: true },
    { name: 'other source does not', sel: labelSelector([requirement('container', 'app', 'In', ['web'])]), labels: web, want: false },
    { name: 'NotIn with absent key matches', sel: labelSelector([requirement('any', 'zone', 'NotIn', ['a'])]), labels: web, want: true },
    { name: 'NotIn with the value does not', sel: labelSelector([requirement('any', 'app', 'NotIn', ['web'])]), labels: web, want: false },
    { name: 'DoesNotExist', sel: labelSelector([requirement('any', 'tier', 'DoesNotExist')]), labels: web, want: false },
    { name: 'empty selector matches all', sel: labelSelector([]), labels: web, want: true },
    { name: 'cidr inside', sel: { kind: 'cidr', cidr: '10.0.0.0/8', except: [] }, labels: cidrIdentityLabels(parsePrefix('10.1.0.0/16')!), want: true },
    { name: 'cidr excepted', sel: { kind: 'cidr', cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }, labels: cidrIdentityLabels(parsePrefix('10.1.2.0/24')!), want: false },
    { name: 'cidr wider than the rule', sel: { kind: 'cidr', cidr: '10.0.0.0/8', except: [] }, labels: cidrIdentityLabels(parsePrefix('10.0.0.0/7')!), want: false },
    { name: '0.0.0.0/0 selects world', sel: { kind: 'cidr', cidr: '0.0.0.0/0', except: [] }, labels: LabelSet.parse(['reserved:world']), want: true },
    { name: '0.0.0.0/0 not world-ipv6', sel: { kind: 'cidr', cidr: '0.0.0.0/0', except: [] }, labels: LabelSet.parse(['reserved:world-ipv6', 'reserved:world']), want: false },
    { name: 'IPv6 cidr', sel: { kind: 'cidr', cidr: 'fd00::/8', except: [] }, labels: cidrIdentityLabels(parsePrefix('fd00:1::/64')!), want: true },
    { name: 'pods are never CIDR-selected', sel: { kind: 'cidr', cidr: '0.0.0.0/0', except: [] }, labels: web, want: false },
    { name: 'cidr group ref', sel: { kind: 'cidrgroup', group: 'g1', except: [] }, labels: cidrGroupIdentityLabels(parsePrefix('1.2.3.0/24')!, ['g1']), want: true },
    { name: 'cidr group ref, excepted', sel: { kind: 'cidrgroup', group: 'g1', except: ['1.2.0.0/16'] }, labels: cidrGroupIdentityLabels(parsePrefix('1.2.3.0/24')!, ['g1']), want: false },
    { name: 'other cidr group', sel: { kind: 'cidrgroup', group: 'g2', except: [] }, labels: cidrGroupIdentityLabels(parsePrefix('1.2.3.0/24')!, ['g1']), want: false },
  ];
  for (const t of table) it(t.name, () => expect(compileSelector(t.sel)(t.labels)).to.equal(t.want));
});

describe('SelectorCache', () => {
  const web = labelSelector([requirement('any', 'app', 'In', ['web'])]);

  it('resolves each distinct selector once and shares it', () => {
    const c = new SelectorCache();
    c.updateIdentities([[300, podLabels('n', { app: 'web' })], [256, podLabels('n', { app: 'web' })], [257, podLabels('n', { app: 'db' })]]);
    const l1 = () => undefined;
    const l2 = () => undefined;
    const a = c.addSelector(web, l1);
    const b = c.addSelector(labelSelector([requirement('any', 'app', 'In', ['web'])]), l2);
    expect(a.key).to.equal(b.key);
    expect(c.selectorCount).to.equal(1);
    expect(a.selections).to.deep.equal([256, 300]);
    c.removeSelector(a.key, l1);
    expect(c.selectorCount).to.equal(1);
    c.removeSelector(a.key, l2);
    expect(c.selectorCount).to.equal(0);
  });

  it('notifies added and removed identities, keeps selections sorted and old snapshots intact', () => {
    const c = new SelectorCache();
    const events: [readonly number[], readonly number[]][] = [];
    const reg = c.addSelector(web, (_k, added, removed) => events.push([added, removed]));
    const snapshot = c.selections(reg.key);
    c.updateIdentities([[400, podLabels('n', { app: 'web' })], [260, podLabels('n', { app: 'web' })]]);
    c.updateIdentities([[400, podLabels('n', { app: 'db' })]]);
    c.updateIdentities([], [260]);
    expect(events).to.deep.equal([[[260, 400], []], [[], [400]], [[], [260]]]);
    expect(snapshot).to.deep.equal([]);
    expect(c.selections(reg.key)).to.deep.equal([]);
  });

  it('the wildcard selects identity 0 only', () => {
    const c = new SelectorCache();
    c.updateIdentities([[300, podLabels('n', { app: 'web' })]]);
    expect(c.addSelector({ kind: 'wildcard' }, () => undefined).selections).to.deep.equal([0]);
  });
});
