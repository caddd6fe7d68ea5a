// Property: the verdict read from the computed map state (two lookups, precedence, deny cover)
// equals a naive evaluation of the rules, for random policies and packets.
import { expect } from 'chai';
import fc from 'fast-check';
import { cidrIdentityLabels, parsePrefix } from '../../identity/cidr.ts';
import type { LabelSet } from '../../identity/labels.ts';
import { reservedIdentities } from '../../identity/reserved-labels.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { computeMapState } from '../../policy/compute.ts';
import type { EnforcementMode } from '../../policy/endpoint-policy.ts';
import type { NamedPort } from '../../policy/ports.ts';
import { verdict } from '../../policy/verdict.ts';
import { apps, namespaces, policyArb } from './support/arbitraries.ts';
import { oracleVerdict } from './support/oracle.ts';
import { podLabels } from './support/world.ts';

const identities = new Map<number, LabelSet>([
  ...reservedIdentities().map(({ id, labels }) => [id, labels] as [number, LabelSet]),
  [(1 << 24) + 1, cidrIdentityLabels(parsePrefix('10.0.0.0/8')!)],
  [(1 << 24) + 2, cidrIdentityLabels(parsePrefix('10.1.2.0/24')!)],
  ...namespaces.flatMap((ns, i) => apps.flatMap((app, j) => (['x', 'y'] as const).map((tier, k) =>
    [1000 + i * 100 + j * 10 + k, podLabels(ns, { app, tier })] as [number, LabelSet]))),
]);
const endpointPorts: NamedPort[] = [{ name: 'http', port: 8080, protocol: 'TCP' }];
const egressPorts: NamedPort[] = [{ name: 'http', port: 80, protocol: 'TCP' }];

const packetArb = fc.record({
  direction: fc.constantFrom('ingress' as const, 'egress' as const),
  remoteIdentity: fc.constantFrom(...identities.keys(), 77777),
  protocol: fc.constantFrom(6, 17, 1),
  port: fc.constantFrom(8, 53, 80, 443, 1500, 8050, 8080, 9999),
});

describe('map-state verdict equals a naive rule evaluation (property)', () => {
  for (const mode of ['default', 'always', 'never'] as EnforcementMode[]) {
    it(`holds for random policies and packets (enforcement ${mode})`, () => {
      fc.assert(
        fc.property(
          fc.array(policyArb, { minLength: 1, maxLength: 3 }),
          fc.constantFrom(...namespaces), fc.constantFrom(...apps), fc.constantFrom('x', 'y'),
          fc.array(packetArb, { minLength: 10, maxLength: 10 }),
          (policies, ns, app, tier, packets) => {
            const unique = [...new Map(policies.map((p) => [`${p.ns}/${p.name}`, p])).values()];
            const rules = unique.flatMap((p) => {
              const r = parsePolicy({ kind: 'CiliumNetworkPolicy', metadata: { name: p.name, namespace: p.ns }, specs: p.specs });
              expect(r.errors).to.deep.equal([]);
              return r.rules;
            });
            const labels = podLabels(ns, { app, tier });
            const options = { enforcementMode: mode, egressNamedPorts: (n: string) => egressPorts.filter((p) => p.name === n) };
            const state = computeMapState({ id: 1, identity: 999, labels, namedPorts: endpointPorts }, rules, identities, options);
            for (const pkt of packets) {
              const got = verdict(state, pkt).verdict;
              const want = oracleVerdict(rules, pkt, { identities, endpointLabels: labels, endpointPorts, egressPorts, mode });
              expect(got === 'redirect' ? 'allowed' : got, JSON.stringify(pkt)).to.equal(want);
            }
          },
        ),
        { numRuns: 200 },
      );
    });
  }
});
