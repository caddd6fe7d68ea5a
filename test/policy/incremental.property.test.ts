// Property: after any sequence of identity and policy changes, the incrementally maintained map
// state equals a from-scratch computation, and the returned diffs replay to the same state.
import { expect } from 'chai';
import fc from 'fast-check';
import { cidrIdentityLabels, parsePrefix } from '../../identity/cidr.ts';
import type { LabelSet } from '../../identity/labels.ts';
import { reservedIdentities } from '../../identity/reserved-labels.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { computeMapState } from '../../policy/compute.ts';
import { PolicyEngine } from '../../policy/engine.ts';
import type { EndpointInfo, EnforcementMode } from '../../policy/endpoint-policy.ts';
import { MapState, diffMapStates } from '../../policy/mapstate.ts';
import { formatRow } from '../../policy/mapstate-types.ts';
import { podLabels } from './support/world.ts';

const apps = ['a', 'b', 'c'];
const namespaces = ['n1', 'n2'];

const selectorArb = fc.oneof(
  fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...apps) }, { requiredKeys: [] }) }),
  fc.record({
    matchExpressions: fc.constant([{ key: 'tier', operator: 'In', values: ['x'] }]),
  }),
  fc.constant({ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'n2' } }),
);
const portArb = fc.oneof(
  fc.record({ port: fc.constantFrom('80', '443', '8080', '0', 'http'), protocol: fc.constantFrom('TCP', 'UDP', 'ANY') }),
  fc.constantFrom({ port: '8000', endPort: 8100, protocol: 'TCP' }, { port: '1000', endPort: 2048, protocol: 'UDP' }),
);
const toPortsArb = fc.oneof(
  fc.constant(undefined),
  fc.array(fc.record({ ports: fc.array(portArb, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }),
  fc.constant([{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }]),
);
const peerArb = fc.oneof(
  fc.record({ fromEndpoints: fc.array(selectorArb, { minLength: 1, maxLength: 2 }) }),
  fc.record({ fromEntities: fc.subarray(['world', 'cluster', 'host', 'all'], { minLength: 1 }) }),
  fc.record({ fromCIDRSet: fc.constant([{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }]) }),
  fc.record({ fromRequires: fc.constant([{ matchLabels: { tier: 'x' } }]), fromEndpoints: fc.constant([{}]) }),
  fc.constant({}),
);
const elementArb = fc.tuple(peerArb, toPortsArb).map(([peer, toPorts]) => (toPorts ? { ...peer, toPorts } : peer));
const toEgress = (el: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(el).map(([k, v]) => [k.replace(/^from/, 'to'), v]));
const ruleArb = fc.record({
  endpointSelector: selectorArb,
  ingress: fc.array(elementArb, { maxLength: 2 }),
  egress: fc.array(elementArb.map(toEgress), { maxLength: 2 }),
  ingressDeny: fc.array(peerArb, { maxLength: 1 }),
  egressDeny: fc.array(peerArb.map(toEgress), { maxLength: 1 }),
  enableDefaultDeny: fc.record({ ingress: fc.boolean(), egress: fc.boolean() }, { requiredKeys: [] }),
});
const policyArb = fc.record({ name: fc.constantFrom('p1', 'p2', 'p3'), ns: fc.constantFrom(...namespaces), specs: fc.array(ruleArb, { minLength: 1, maxLength: 2 }) });
const identityArb = fc.record({
  id: fc.integer({ min: 1000, max: 1012 }),
  ns: fc.constantFrom(...namespaces),
  app: fc.constantFrom(...apps),
  tier: fc.constantFrom('x', 'y'),
});
const opArb = fc.oneof(
  fc.record({ op: fc.constant('addIdentity' as const), identity: identityArb }),
  fc.record({ op: fc.constant('removeIdentity' as const), id: fc.integer({ min: 1000, max: 1012 }) }),
  fc.record({ op: fc.constant('upsertPolicy' as const), policy: policyArb }),
  fc.record({ op: fc.constant('deletePolicy' as const), name: fc.constantFrom('p1', 'p2', 'p3'), ns: fc.constantFrom(...namespaces) }),
);

const baseIdentities = (): [number, LabelSet][] => [
  ...reservedIdentities().map(({ id, labels }) => [id, labels] as [number, LabelSet]),
  [(1 << 24) + 1, cidrIdentityLabels(parsePrefix('10.0.0.0/8')!)],
  [(1 << 24) + 2, cidrIdentityLabels(parsePrefix('10.1.2.0/24')!)],
];

const endpoints: EndpointInfo[] = [
  { id: 1, identity: 500, labels: podLabels('n1', { app: 'a', tier: 'x' }), namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  { id: 2, identity: 501, labels: podLabels('n2', { app: 'b', tier: 'y' }) },
];

function render(s: MapState): string[] {
  return s.rows().map(formatRow);
}

describe('incremental map state equals full recomputation (property)', () => {
  for (const mode of ['default', 'always'] as EnforcementMode[]) {
    it(`holds for random identity and policy changes (enforcement ${mode})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 12 }), (ops) => {
          const options = { enforcementMode: mode, egressNamedPorts: (n: string) => (n === 'http' ? [{ name: 'http', port: 80, protocol: 'TCP' as const }] : []) };
          const engine = new PolicyEngine(options);
          const identities = new Map<number, LabelSet>(baseIdentities());
          engine.updateIdentities(identities);
          const replay = new Map<number, MapState>();
          for (const ep of endpoints) {
            const d = engine.upsertEndpoint(ep);
            replay.set(ep.id, MapState.of(d.added));
          }
          for (const op of ops) {
            let diffs;
            if (op.op === 'addIdentity') {
              const labels = podLabels(op.identity.ns, { app: op.identity.app, tier: op.identity.tier });
              identities.set(op.identity.id, labels);
              diffs = engine.updateIdentities([[op.identity.id, labels]]);
            } else if (op.op === 'removeIdentity') {
              identities.delete(op.id);
              diffs = engine.updateIdentities([], [op.id]);
            } else if (op.op === 'upsertPolicy') {
              const res = parsePolicy({ kind: 'CiliumNetworkPolicy', metadata: { name: op.policy.name, namespace: op.policy.ns }, specs: op.policy.specs });
              expect(res.errors).to.deep.equal([]);
              diffs = engine.upsertPolicy(res);
            } else {
              diffs = engine.deletePolicy('CiliumNetworkPolicy', op.ns, op.name);
            }
            for (const [id, d] of diffs) replay.get(id)!.apply(d);
            for (const ep of endpoints) {
              const full = computeMapState(ep, engine.repository.rules(), identities, options);
              const live = engine.mapState(ep.id)!;
              expect(render(live)).to.deep.equal(render(full));
              expect(diffMapStates(replay.get(ep.id)!, live)).to.deep.equal({ added: [], changed: [], removed: [] });
            }
          }
        }),
        { numRuns: 150 },
      );
    });
  }
});
