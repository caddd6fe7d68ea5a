// The connectivity-test policies (cilium connectivity test) with their expected verdicts.
import { expect } from 'chai';
import { formatOrigin } from '../../policy/mapstate-types.ts';
import { cnp, connect, engineWith, ID } from './support/world.ts';

const clientIngress = cnp('client-ingress', `
  endpointSelector: {matchLabels: {kind: client}}
  ingress:
  - fromEndpoints:
    - matchLabels: {other: client}
`);

const allIngressDeny = cnp('all-ingress-deny', `
  endpointSelector: {}
  ingress:
  - {}
`);

const allEgressDeny = cnp('all-egress-deny', `
  endpointSelector: {}
  egress:
  - {}
`);

const allowAllIngress = cnp('allow-all-ingress', `
  endpointSelector: {}
  ingress:
  - fromEntities: [all]
`);

const allowAllEgress = cnp('allow-all-egress', `
  endpointSelector: {}
  egress:
  - toEntities: [all]
`);

const echoIngressFromOtherClientDeny = cnp('echo-ingress-from-other-client-deny', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingressDeny:
  - fromEndpoints:
    - matchLabels: {other: client}
`);

const dnsEgress = `
  - toEndpoints:
    - matchExpressions:
      - {key: k8s:io.kubernetes.pod.namespace, operator: In, values: [kube-system]}
      - {key: k8s:k8s-app, operator: In, values: [kube-dns]}
    toPorts:
    - ports: [{port: "53", protocol: ANY}]
      rules:
        dns: [{matchPattern: "*"}]
`;

const clientEgress = cnp('client-egress', `
  endpointSelector: {matchLabels: {kind: client}}
  egress:
  - toEndpoints:
    - matchLabels: {kind: echo}
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
${dnsEgress}`);

const clientEgressToCidrDeny = cnp('client-egress-to-cidr-deny', `
  endpointSelector: {matchLabels: {kind: client}}
  egressDeny:
  - toCIDRSet:
    - cidr: 1.0.0.1/32
`);

const toEntitiesWorld = cnp('to-entities-world', `
  endpointSelector: {matchLabels: {kind: client}}
  egress:
  - toEntities: [world]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
${dnsEgress}`);

const toCidrExternal = cnp('to-cidr-external', `
  endpointSelector: {matchLabels: {kind: client}}
  egress:
  - toCIDRSet:
    - cidr: 1.0.0.0/8
      except: [1.0.0.1/32]
`);

interface Case {
  readonly from: number;
  readonly to: number;
  readonly proto: 'TCP' | 'UDP' | 'ICMP';
  readonly port: number;
  readonly expect: string;
  readonly rule?: string;
}

const suites: { name: string; policies: string[]; cases: Case[] }[] = [
  {
    name: 'client-ingress',
    policies: [clientIngress],
    cases: [
      { from: ID.client2, to: ID.client, proto: 'TCP', port: 8080, expect: 'OK', rule: 'CiliumNetworkPolicy/cilium-test-1/client-ingress[0]@spec.ingress[0]' },
      { from: ID.client, to: ID.client2, proto: 'ICMP', port: 8, expect: 'DefaultDenyIngressDrop' },
      { from: ID.client3, to: ID.client, proto: 'TCP', port: 8080, expect: 'DefaultDenyIngressDrop' },
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'OK' },
      { from: ID.echoSame, to: ID.client, proto: 'TCP', port: 8080, expect: 'DefaultDenyIngressDrop' },
      { from: ID.host, to: ID.client, proto: 'TCP', port: 8080, expect: 'OK', rule: 'Implicit/allow-localhost[-1]' },
    ],
  },
  {
    name: 'all-ingress-deny',
    policies: [allIngressDeny],
    cases: [
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'DefaultDenyIngressDrop' },
      { from: ID.client2, to: ID.echoOther, proto: 'TCP', port: 8080, expect: 'DefaultDenyIngressDrop' },
      { from: ID.world, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'DefaultDenyIngressDrop' },
      { from: ID.client, to: ID.cidr8, proto: 'TCP', port: 443, expect: 'OK' },
    ],
  },
  {
    name: 'all-egress-deny',
    policies: [allEgressDeny],
    cases: [
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.kubeDns, proto: 'UDP', port: 53, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.cidr8, proto: 'TCP', port: 443, expect: 'DefaultDenyEgressDrop' },
      { from: ID.world, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'OK' },
    ],
  },
  {
    name: 'echo-ingress-from-other-client-deny',
    policies: [allowAllIngress, echoIngressFromOtherClientDeny],
    cases: [
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'OK' },
      { from: ID.client2, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'PolicyDenyIngressDrop', rule: 'CiliumNetworkPolicy/cilium-test-1/echo-ingress-from-other-client-deny[0]@spec.ingressDeny[0]' },
      { from: ID.client2, to: ID.echoOther, proto: 'ICMP', port: 8, expect: 'PolicyDenyIngressDrop' },
      { from: ID.client2, to: ID.client, proto: 'TCP', port: 8080, expect: 'OK' },
    ],
  },
  {
    name: 'client-egress',
    policies: [clientEgress],
    cases: [
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'OK', rule: 'CiliumNetworkPolicy/cilium-test-1/client-egress[0]@spec.egress[0]' },
      { from: ID.client2, to: ID.echoOther, proto: 'TCP', port: 8080, expect: 'OK' },
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 80, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.kubeDns, proto: 'UDP', port: 53, expect: 'Redirect' },
      { from: ID.client, to: ID.kubeDns, proto: 'TCP', port: 53, expect: 'Redirect' },
      { from: ID.client, to: ID.cidr8, proto: 'TCP', port: 443, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.world, proto: 'TCP', port: 443, expect: 'DefaultDenyEgressDrop' },
    ],
  },
  {
    name: 'client-egress-to-cidr-deny',
    policies: [allowAllEgress, clientEgressToCidrDeny],
    cases: [
      { from: ID.client, to: ID.cidr32, proto: 'TCP', port: 443, expect: 'PolicyDenyEgressDrop', rule: 'CiliumNetworkPolicy/cilium-test-1/client-egress-to-cidr-deny[0]@spec.egressDeny[0]' },
      { from: ID.client, to: ID.cidr8, proto: 'TCP', port: 443, expect: 'OK' },
      { from: ID.client, to: ID.world, proto: 'TCP', port: 443, expect: 'OK' },
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'OK' },
    ],
  },
  {
    name: 'to-entities-world',
    policies: [toEntitiesWorld],
    cases: [
      { from: ID.client, to: ID.world, proto: 'TCP', port: 80, expect: 'OK' },
      { from: ID.client, to: ID.cidr8, proto: 'TCP', port: 80, expect: 'OK' },
      { from: ID.client, to: ID.world, proto: 'TCP', port: 443, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.kubeDns, proto: 'UDP', port: 53, expect: 'Redirect' },
    ],
  },
  {
    name: 'to-cidr-external (cidr + except)',
    policies: [toCidrExternal],
    cases: [
      { from: ID.client, to: ID.cidr8, proto: 'TCP', port: 443, expect: 'OK', rule: 'CiliumNetworkPolicy/cilium-test-1/to-cidr-external[0]@spec.egress[0]' },
      { from: ID.client, to: ID.cidr32, proto: 'TCP', port: 443, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.world, proto: 'TCP', port: 443, expect: 'DefaultDenyEgressDrop' },
      { from: ID.client, to: ID.echoSame, proto: 'TCP', port: 8080, expect: 'DefaultDenyEgressDrop' },
    ],
  },
];

const name = (id: number) => Object.entries(ID).find(([, v]) => v === id)?.[0] ?? String(id);

describe('connectivity-test policies', () => {
  for (const suite of suites) {
    describe(suite.name, () => {
      const engine = engineWith(suite.policies);
      for (const c of suite.cases) {
        it(`${name(c.from)} -> ${name(c.to)} ${c.proto}/${c.port}: ${c.expect}`, () => {
          const got = connect(engine, c.from, c.to, c.proto, c.port);
          expect(got.result).to.equal(c.expect);
          if (c.rule) {
            const origins = [...(got.egress?.derivedFrom ?? []), ...(got.ingress?.derivedFrom ?? [])];
            expect(origins.map(formatOrigin)).to.include(c.rule);
          }
        });
      }
    });
  }
});
