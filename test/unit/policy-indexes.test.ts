// The indexes that narrow policy lookups must never change an answer: selector selections equal
// matching every identity, rulesSelecting equals testing every rule, and identities selected by
// more than 32 selectors (signatures of several words) get every entry they should.
import { expect } from 'chai';
import fc from 'fast-check';
import { cidrGroupIdentityLabels, cidrIdentityLabels, parsePrefix } from '../../identity/cidr.ts';
import { type Label, LabelSet } from '../../identity/labels.ts';
import { reservedIdentities } from '../../identity/reserved-labels.ts';
import type { PeerSelector, PolicyRule, RequirementOperator } from '../../policy/api/model.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { labelSelector, requirement } from '../../policy/api/parse-selector.ts';
import { PolicyEngine } from '../../policy/engine.ts';
import { fqdnIdentityLabels } from '../../policy/fqdn.ts';
import { ruleSelects } from '../../policy/repository.ts';
import { SelectorCache } from '../../policy/selector-cache.ts';
import { compileSelector } from '../../policy/selector-match.ts';

const keys = ['app', 'tier', 'zone'];
const values = ['a', 'b', 'c'];
const sources = ['k8s', 'container'] as const;

const podLabelsArb = fc.uniqueArray(
  fc.record({ source: fc.constantFrom(...sources), key: fc.constantFrom(...keys), value: fc.constantFrom(...values) }),
  { maxLength: 4, selector: (l) => `${l.source}:${l.key}` },
).map((ls) => new LabelSet(ls as Label[]));
const otherLabels = [
  cidrIdentityLabels(parsePrefix('10.1.0.0/16')!), cidrIdentityLabels(parsePrefix('192.168.0.0/24')!),
  cidrGroupIdentityLabels(parsePrefix('10.2.0.0/16')!, ['g1']), fqdnIdentityLabels('10.3.0.1', ['api.example.com']),
  ...reservedIdentities().map((r) => r.labels),
];
const labelsArb = fc.oneof({ weight: 4, arbitrary: podLabelsArb }, { weight: 1, arbitrary: fc.constantFrom(...otherLabels) });

const requirementArb = fc.record({
  source: fc.constantFrom('any', ...sources),
  key: fc.constantFrom(...keys),
  operator: fc.constantFrom<RequirementOperator>('In', 'NotIn', 'Exists', 'DoesNotExist'),
  values: fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: 2 }),
}).map((r) => requirement(r.source, r.key, r.operator, r.operator === 'In' || r.operator === 'NotIn' ? r.values : []));
const selectorArb: fc.Arbitrary<PeerSelector> = fc.oneof(
  { weight: 5, arbitrary: fc.array(requirementArb, { maxLength: 3 }).map(labelSelector) },
  { weight: 1, arbitrary: fc.constantFrom<PeerSelector>(
    { kind: 'cidr', cidr: '10.0.0.0/8', except: ['10.2.0.0/16'] }, { kind: 'cidr', cidr: '0.0.0.0/0', except: [] },
    { kind: 'cidrgroup', group: 'g1', except: [] }, { kind: 'fqdn', matchPattern: '*.example.com' },
  ) },
);

describe('policy lookup indexes', () => {
  it('selector selections equal matching every identity, across adds, relabels and removals', () => {
    const opArb = fc.oneof(
      fc.record({ add: fc.integer({ min: 256, max: 280 }), labels: labelsArb }),
      fc.record({ remove: fc.integer({ min: 256, max: 280 }) }),
    );
    fc.assert(fc.property(fc.array(selectorArb, { minLength: 1, maxLength: 6 }), fc.array(opArb, { maxLength: 30 }), (selectors, ops) => {
      const cache = new SelectorCache();
      const known = new Map<number, LabelSet>();
      const check = (keysOf: string[]) => selectors.forEach((sel, i) => {
        const match = compileSelector(sel);
        const want = [...known].filter(([, l]) => match(l)).map(([id]) => id).sort((a, b) => a - b);
        expect(cache.selections(keysOf[i]!)).to.deep.equal(sel.kind === 'wildcard' ? [0] : want);
      });
      const half = Math.floor(ops.length / 2);
      const apply = (op: (typeof ops)[number]) => {
        if ('add' in op) {
          known.set(op.add, op.labels);
          cache.updateIdentities([[op.add, op.labels]]);
        } else {
          known.delete(op.remove);
          cache.updateIdentities([], [op.remove]);
        }
      };
      ops.slice(0, half).forEach(apply);
      const keysOf = selectors.map((sel) => cache.addSelector(sel, () => undefined).key);
      check(keysOf);
      ops.slice(half).forEach(apply);
      check(keysOf);
    }), { numRuns: 300 });
  });

  it('rulesSelecting equals testing every rule, in rule order', () => {
    const policyArb = fc.record({
      name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
      subject: fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...values), { maxKeys: 2 }),
      expressions: fc.array(fc.record({ key: fc.constantFrom(...keys), operator: fc.constantFrom('In', 'NotIn', 'Exists'), values: fc.constant(['a', 'b']) }), { maxLength: 1 }),
    });
    fc.assert(fc.property(fc.array(policyArb, { maxLength: 8 }), fc.array(podLabelsArb, { maxLength: 5 }), (policies, endpoints) => {
      const engine = new PolicyEngine();
      for (const p of policies) {
        const endpointSelector = {
          matchLabels: p.subject,
          matchExpressions: p.expressions.map((e) => (e.operator === 'Exists' ? { key: e.key, operator: e.operator } : e)),
        };
        const res = parsePolicy({ kind: 'CiliumNetworkPolicy', metadata: { name: p.name, namespace: 'n' }, spec: { endpointSelector, ingress: [{}] } });
        expect(res.errors).to.deep.equal([]);
        engine.repository.upsert(res);
      }
      for (const labels of endpoints) {
        const all: readonly PolicyRule[] = engine.repository.rules();
        expect(engine.repository.rulesSelecting(labels)).to.deep.equal(all.filter((r) => ruleSelects(r, labels)));
      }
    }), { numRuns: 200 });
  });

  it('an identity selected by more than 32 selectors gets the entries of all of them', () => {
    const n = 40;
    const engine = new PolicyEngine();
    const peers: [number, LabelSet][] = Array.from({ length: n }, (_, j) =>
      [1000 + j, LabelSet.fromMap({ 'io.kubernetes.pod.namespace': 'n', ...Object.fromEntries(Array.from({ length: j + 1 }, (_, k) => [`k${k}`, 'yes'])) }, 'k8s')]);
    engine.updateIdentities(peers);
    const ingress = Array.from({ length: n }, (_, k) => ({
      fromEndpoints: [{ matchLabels: { [`k${k}`]: 'yes' } }], toPorts: [{ ports: [{ port: String(2000 + k), protocol: 'TCP' }] }],
    }));
    engine.upsertPolicy(parsePolicy({ kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'many' }, spec: { endpointSelector: { matchLabels: { role: 'server' } }, ingress } }));
    engine.upsertEndpoint({ id: 1, identity: 900, labels: LabelSet.fromMap({ role: 'server' }, 'k8s') });
    const state = engine.mapState(1)!;
    for (const [id] of peers) {
      const ports = state.rowsFor('ingress', id).map((r) => r.key.port);
      expect(ports, `identity ${id}`).to.deep.equal(Array.from({ length: id - 1000 + 1 }, (_, k) => 2000 + k));
    }
  });
});
