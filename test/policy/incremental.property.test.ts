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
import { apps, namespaces, policyArb } from './support/arbitraries.ts';
import { podLabels } from './support/world.ts';

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
  fc.record({ op: fc.constant('relabelEndpoint' as const), ns: fc.constantFrom(...namespaces), app: fc.constantFrom(...apps) }),
);

const baseIdentities = (): [number, LabelSet][] => [
  ...reservedIdentities().map(({ id, labels }) => [id, labels] as [number, LabelSet]),
  [(1 << 24) + 1, cidrIdentityLabels(parsePrefix('10.0.0.0/8')!)],
  [(1 << 24) + 2, cidrIdentityLabels(parsePrefix('10.1.2.0/24')!)],
];

const initialEndpoints: EndpointInfo[] = [
  { id: 1, identity: 500, labels: podLabels('n1', { app: 'a', tier: 'x' }), namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  { id: 2, identity: 501, labels: podLabels('n2', { app: 'b', tier: 'y' }) },
  { id: 3, identity: 500, labels: podLabels('n1', { app: 'a', tier: 'x' }), namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
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
          const endpoints = [...initialEndpoints];
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
            } else if (op.op === 'deletePolicy') {
              diffs = engine.deletePolicy('CiliumNetworkPolicy', op.ns, op.name);
            } else {
              const labels = podLabels(op.ns, { app: op.app, tier: 'y' });
              endpoints[1] = { id: 2, identity: 600 + apps.indexOf(op.app) * 2 + namespaces.indexOf(op.ns), labels };
              diffs = new Map([[2, engine.upsertEndpoint(endpoints[1])]]);
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
