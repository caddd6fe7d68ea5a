// fast-check generators of random (valid) CiliumNetworkPolicy rules for property tests.
import fc from 'fast-check';

export const apps = ['a', 'b', 'c'];
export const namespaces = ['n1', 'n2'];

export const selectorArb = fc.oneof(
  fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...apps) }, { requiredKeys: [] }) }),
  fc.record({
    matchExpressions: fc.constant([{ key: 'tier', operator: 'In', values: ['x'] }]),
  }),
  fc.constant({ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'n2' } }),
);
export const portArb = fc.oneof(
  fc.record({ port: fc.constantFrom('80', '443', '8080', '0', 'http'), protocol: fc.constantFrom('TCP', 'UDP', 'ANY') }),
  fc.constantFrom({ port: '8000', endPort: 8100, protocol: 'TCP' }, { port: '1000', endPort: 2048, protocol: 'UDP' }),
);
export const toPortsArb = fc.oneof(
  fc.constant(undefined),
  fc.array(fc.record({ ports: fc.array(portArb, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }),
  fc.constant([{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }]),
);
export const peerArb = fc.oneof(
  fc.record({ fromEndpoints: fc.array(selectorArb, { minLength: 1, maxLength: 2 }) }),
  fc.record({ fromEntities: fc.subarray(['world', 'cluster', 'host', 'all'], { minLength: 1 }) }),
  fc.record({ fromCIDRSet: fc.constant([{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }]) }),
  fc.record({ fromRequires: fc.constant([{ matchLabels: { tier: 'x' } }]), fromEndpoints: fc.constant([{}]) }),
  fc.constant({}),
);
const icmpsArb = fc.constant([{ fields: [{ type: 8 }] }]);
export const elementArb = fc.tuple(peerArb, fc.oneof(toPortsArb, icmpsArb.map((icmps) => ({ icmps })))).map(([peer, ports]) =>
  ports === undefined ? peer : Array.isArray(ports) ? { ...peer, toPorts: ports } : { ...peer, ...ports });
export const toEgress = (el: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(el).map(([k, v]) => [k.replace(/^from/, 'to'), v]));
export const ruleArb = fc.record({
  endpointSelector: selectorArb,
  ingress: fc.array(elementArb, { maxLength: 2 }),
  egress: fc.array(elementArb.map(toEgress), { maxLength: 2 }),
  ingressDeny: fc.array(elementArb, { maxLength: 1 }),
  egressDeny: fc.array(elementArb.map(toEgress), { maxLength: 1 }),
  enableDefaultDeny: fc.record({ ingress: fc.boolean(), egress: fc.boolean() }, { requiredKeys: [] }),
});
export const policyArb = fc.record({ name: fc.constantFrom('p1', 'p2', 'p3'), ns: fc.constantFrom(...namespaces), specs: fc.array(ruleArb, { minLength: 1, maxLength: 2 }) });
