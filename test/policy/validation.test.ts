// Every rejected combination: the error names the rule and the field path.
import { expect } from 'chai';
import { validCondition } from '../../policy/api/condition.ts';
import { formatValidationError } from '../../policy/api/errors.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';

const cnp = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'ns' }, spec, ...extra,
});
const sel = { matchLabels: { app: 'a' } };
const port = (p: Record<string, unknown>) => ({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [p] }] }] });

const rejected: { name: string; obj: unknown; path: string; message: RegExp }[] = [
  { name: 'neither spec nor specs', obj: { kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'ns' } }, path: 'spec', message: /empty policy/ },
  { name: 'no subject selector', obj: cnp({ ingress: [{}] }), path: 'spec', message: /exactly one of endpointSelector or nodeSelector/ },
  { name: 'both subject selectors', obj: cnp({ endpointSelector: sel, nodeSelector: sel }), path: 'spec', message: /exactly one/ },
  { name: 'nodeSelector in a namespaced CNP', obj: cnp({ nodeSelector: sel }), path: 'spec.nodeSelector', message: /only allowed in a CiliumClusterwideNetworkPolicy/ },
  { name: 'fromEndpoints with fromCIDR', obj: cnp({ endpointSelector: sel, ingress: [{ fromEndpoints: [sel], fromCIDR: ['10.0.0.0/8'] }] }), path: 'spec.ingress[0]', message: /combining fromEndpoints and fromCIDR/ },
  { name: 'fromEntities with fromCIDRSet', obj: cnp({ endpointSelector: sel, ingressDeny: [{ fromCIDRSet: [{ cidr: '10.0.0.0/8' }], fromEntities: ['world'] }] }), path: 'spec.ingressDeny[0]', message: /combining fromCIDRSet and fromEntities/ },
  { name: 'toFQDNs with toEndpoints', obj: cnp({ endpointSelector: sel, egress: [{ toEndpoints: [sel], toFQDNs: [{ matchName: 'a.com' }] }] }), path: 'spec.egress[0]', message: /combining toEndpoints and toFQDNs/ },
  { name: 'toFQDNs with toCIDR', obj: cnp({ endpointSelector: sel, egress: [{ toCIDR: ['1.1.1.1/32'], toFQDNs: [{ matchName: 'a.com' }] }] }), path: 'spec.egress[0]', message: /combining toCIDR and toFQDNs/ },
  { name: 'toPorts with icmps', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '80' }] }], icmps: [{ fields: [{ type: 8 }] }] }] }), path: 'spec.egress[0]', message: /toPorts and icmps/ },
  { name: 'more than 40 ports', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: Array.from({ length: 41 }, (_, i) => ({ port: String(i + 1) })) }] }] }), path: 'spec.egress[0].toPorts[0].ports', message: /maximum is 40/ },
  { name: 'port out of range', obj: cnp(port({ port: '70000' })), path: 'spec.egress[0].toPorts[0].ports[0].port', message: /out of range/ },
  { name: 'invalid port name', obj: cnp(port({ port: 'not_a-name!' })), path: 'spec.egress[0].toPorts[0].ports[0].port', message: /neither a port number/ },
  { name: 'port name with only digits and dash', obj: cnp(port({ port: '-http' })), path: 'spec.egress[0].toPorts[0].ports[0].port', message: /neither/ },
  { name: 'endPort below port', obj: cnp(port({ port: '8080', endPort: 80 })), path: 'spec.egress[0].toPorts[0].ports[0].endPort', message: /must not be lower/ },
  { name: 'endPort out of range', obj: cnp(port({ port: '80', endPort: 70000 })), path: 'spec.egress[0].toPorts[0].ports[0].endPort', message: /between 0 and 65535/ },
  { name: 'unknown protocol', obj: cnp(port({ port: '80', protocol: 'ICMP' })), path: 'spec.egress[0].toPorts[0].ports[0].protocol', message: /unsupported protocol/ },
  { name: 'HTTP over UDP', obj: cnp({ endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'UDP' }], rules: { http: [{}] } }] }] }), path: 'spec.ingress[0].toPorts[0].ports[0].protocol', message: /only apply to TCP/ },
  { name: 'HTTP over ANY', obj: cnp({ endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: '80' }], rules: { http: [{}] } }] }] }), path: 'spec.ingress[0].toPorts[0].ports[0].protocol', message: /only apply to TCP \(not ANY\)/ },
  { name: 'L7 on port 0', obj: cnp({ endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: '0', protocol: 'TCP' }], rules: { http: [{}] } }] }] }), path: 'spec.ingress[0].toPorts[0].ports[0].port', message: /port is 0/ },
  { name: 'DNS without port', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '0', protocol: 'UDP' }], rules: { dns: [{ matchPattern: '*' }] } }] }] }), path: 'spec.egress[0].toPorts[0].ports[0].port', message: /port is 0/ },
  { name: 'DNS without ports list', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ rules: { dns: [{ matchPattern: '*' }] } }] }] }), path: 'spec.egress[0].toPorts[0].ports', message: /explicit port/ },
  { name: 'DNS with a port range', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '53', endPort: 54, protocol: 'UDP' }], rules: { dns: [{ matchPattern: '*' }] } }] }] }), path: 'spec.egress[0].toPorts[0].ports[0].endPort', message: /port ranges/ },
  { name: 'DNS on ingress', obj: cnp({ endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { dns: [{ matchPattern: '*' }] } }] }] }), path: 'spec.ingress[0].toPorts[0].rules', message: /not allowed on ingress/ },
  { name: 'two L7 types in one port rule', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}], kafka: [{ topic: 't' }] } }] }] }), path: 'spec.egress[0].toPorts[0].rules', message: /multiple L7 protocol rule types/ },
  { name: 'l7 without l7proto', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { l7: [{ a: 'b' }] } }] }] }), path: 'spec.egress[0].toPorts[0].rules.l7proto', message: /require l7proto/ },
  { name: 'serverNames without terminatingTLS', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }], serverNames: ['a.com'] }] }] }), path: 'spec.egress[0].toPorts[0].serverNames', message: /terminatingTLS/ },
  { name: 'invalid CIDR', obj: cnp({ endpointSelector: sel, egress: [{ toCIDR: ['10.0.0.0/33'] }] }), path: 'spec.egress[0].toCIDR[0]', message: /invalid CIDR/ },
  { name: 'except outside cidr', obj: cnp({ endpointSelector: sel, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }] }] }), path: 'spec.egress[0].toCIDRSet[0].except[0]', message: /not contained/ },
  { name: 'CIDRSet with cidr and cidrGroupRef', obj: cnp({ endpointSelector: sel, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', cidrGroupRef: 'g' }] }] }), path: 'spec.egress[0].toCIDRSet[0]', message: /exactly one of cidr/ },
  { name: 'unknown entity', obj: cnp({ endpointSelector: sel, egress: [{ toEntities: ['moon'] }] }), path: 'spec.egress[0].toEntities[0]', message: /unknown entity/ },
  { name: 'bad matchName', obj: cnp({ endpointSelector: sel, egress: [{ toFQDNs: [{ matchName: 'a b.com' }] }] }), path: 'spec.egress[0].toFQDNs[0].matchName', message: /does not match/ },
  { name: 'matchName and matchPattern together', obj: cnp({ endpointSelector: sel, egress: [{ toFQDNs: [{ matchName: 'a.com', matchPattern: '*.a.com' }] }] }), path: 'spec.egress[0].toFQDNs[0]', message: /only one of/ },
  { name: 'empty FQDN item', obj: cnp({ endpointSelector: sel, egress: [{ toFQDNs: [{}] }] }), path: 'spec.egress[0].toFQDNs[0]', message: /one of matchName or matchPattern/ },
  { name: 'FQDN longer than 255', obj: cnp({ endpointSelector: sel, egress: [{ toFQDNs: [{ matchPattern: `${'a'.repeat(256)}` }] }] }), path: 'spec.egress[0].toFQDNs[0].matchPattern', message: /longer than 255/ },
  { name: 'bad selector operator', obj: cnp({ endpointSelector: { matchExpressions: [{ key: 'a', operator: 'Has' }] } }), path: 'spec.endpointSelector.matchExpressions[0].operator', message: /must be one of/ },
  { name: 'In without values', obj: cnp({ endpointSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }), path: 'spec.endpointSelector.matchExpressions[0].values', message: /non-empty/ },
  { name: 'Exists with values', obj: cnp({ endpointSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }), path: 'spec.endpointSelector.matchExpressions[0].values', message: /must be empty/ },
  { name: 'non-string matchLabels value', obj: cnp({ endpointSelector: { matchLabels: { a: 1 } } }), path: 'spec.endpointSelector.matchLabels["a"]', message: /must be a string/ },
  { name: 'bad ICMP family', obj: cnp({ endpointSelector: sel, egress: [{ icmps: [{ fields: [{ type: 8, family: 'IPv5' }] }] }] }), path: 'spec.egress[0].icmps[0].fields[0].family', message: /IPv4 or IPv6/ },
  { name: 'unknown ICMP type name', obj: cnp({ endpointSelector: sel, egress: [{ icmps: [{ fields: [{ type: 'Hello' }] }] }] }), path: 'spec.egress[0].icmps[0].fields[0].type', message: /invalid IPv4 ICMP type/ },
  { name: 'ICMP type above 255', obj: cnp({ endpointSelector: sel, egress: [{ icmps: [{ fields: [{ type: 300 }] }] }] }), path: 'spec.egress[0].icmps[0].fields[0].type', message: /invalid/ },
  { name: 'enableDefaultDeny not boolean', obj: cnp({ endpointSelector: sel, enableDefaultDeny: { ingress: 'yes' } }), path: 'spec.enableDefaultDeny.ingress', message: /boolean/ },
  { name: 'bad authentication mode', obj: cnp({ endpointSelector: sel, ingress: [{ fromEntities: ['all'], authentication: { mode: 'maybe' } }] }), path: 'spec.ingress[0].authentication.mode', message: /disabled, required/ },
  { name: 'HTTP path not a regex', obj: cnp({ endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ path: '/(' }] } }] }] }), path: 'spec.ingress[0].toPorts[0].rules.http[0].path', message: /regular expression/ },
  { name: 'ingress not a list', obj: cnp({ endpointSelector: sel, ingress: {} }), path: 'spec.ingress', message: /must be a list/ },
  {
    name: 'host policy with HTTP rules',
    obj: { kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'h' }, spec: { nodeSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}] } }] }] } },
    path: 'spec.ingress[0].toPorts[0].rules', message: /host policies support only DNS/,
  },
];

describe('policy validation: rejected combinations', () => {
  for (const r of rejected) {
    it(`rejects ${r.name}`, () => {
      const res = parsePolicy(r.obj);
      expect(res.rules).to.have.length(0);
      const hit = res.errors.find((e) => e.path === r.path && r.message.test(e.message));
      expect(hit, `errors were: ${res.errors.map(formatValidationError).join(' | ')}`).to.not.equal(undefined);
    });
  }

  it('names the rule index inside specs', () => {
    const res = parsePolicy({
      kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'ns' },
      specs: [{ endpointSelector: sel }, { endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: 'x y' }] }] }] }],
    });
    expect(res.errors.map(formatValidationError)).to.deep.equal([
      'specs[1].ingress[0].toPorts[0].ports[0].port: "x y" is neither a port number (0-65535) nor a valid port name',
    ]);
  });

  it('reports every error, not only the first', () => {
    const res = parsePolicy(cnp({ endpointSelector: sel, egress: [{ toCIDR: ['bad'] }, { toEntities: ['moon'] }] }));
    expect(res.errors.map((e) => e.path)).to.deep.equal(['spec.egress[0].toCIDR[0]', 'spec.egress[1].toEntities[0]']);
  });
});

describe('policy validation: accepted edge cases', () => {
  const accepted: { name: string; obj: unknown }[] = [
    { name: 'DNS over ANY on port 53', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }] }] }) },
    { name: 'HTTP on a port range', obj: cnp({ endpointSelector: sel, ingress: [{ toPorts: [{ ports: [{ port: '8000', endPort: 8080, protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] }] }) },
    { name: 'named port with upper case', obj: cnp(port({ port: 'HTTP-Alt' })) },
    { name: 'ICMP by name, IPv6', obj: cnp({ endpointSelector: sel, egress: [{ icmps: [{ fields: [{ type: 'EchoRequest', family: 'IPv6' }] }] }] }) },
    { name: 'both spec and specs', obj: cnp({ endpointSelector: sel }, { specs: [{ endpointSelector: sel }] }) },
    { name: 'L7 rules in deny (ignored with a warning)', obj: cnp({ endpointSelector: sel, ingressDeny: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}] } }] }] }) },
    { name: 'host policy with DNS egress', obj: { kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'h' }, spec: { nodeSelector: {}, egress: [{ toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { dns: [{ matchName: 'a.com' }] } }] }] } } },
    { name: 'serverNames with terminatingTLS', obj: cnp({ endpointSelector: sel, egress: [{ toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }], serverNames: ['a.com'], terminatingTLS: { secret: { name: 's' } } }] }] }) },
  ];
  for (const a of accepted) {
    it(`accepts ${a.name}`, () => {
      const res = parsePolicy(a.obj);
      expect(res.errors.map(formatValidationError)).to.deep.equal([]);
      expect(res.rules.length).to.be.greaterThan(0);
    });
  }
});

describe('Valid condition', () => {
  const now = new Date('2026-01-02T03:04:05Z');
  it('is True for a valid policy', () => {
    const c = validCondition(parsePolicy(cnp({ endpointSelector: sel })), now);
    expect(c).to.deep.equal({
      type: 'Valid', status: 'True', reason: 'PolicyValid', message: 'Policy validation succeeded', lastTransitionTime: '2026-01-02T03:04:05.000Z',
    });
  });
  it('is False with the errors in the message', () => {
    const c = validCondition(parsePolicy(cnp({ endpointSelector: sel, egress: [{ toEntities: ['moon'] }] })), now);
    expect(c.status).to.equal('False');
    expect(c.reason).to.equal('PolicyInvalid');
    expect(c.message).to.equal('Policy validation failed: spec.egress[0].toEntities[0]: unknown entity "moon"');
  });
  it('keeps lastTransitionTime while the status does not change', () => {
    const first = validCondition(parsePolicy(cnp({ endpointSelector: sel })), now);
    const again = validCondition(parsePolicy(cnp({ endpointSelector: sel })), new Date('2027-01-01T00:00:00Z'), first);
    expect(again.lastTransitionTime).to.equal(first.lastTransitionTime);
    const flipped = validCondition(parsePolicy(cnp({ endpointSelector: 5 })), new Date('2027-01-01T00:00:00Z'), first);
    expect(flipped.lastTransitionTime).to.equal('2027-01-01T00:00:00.000Z');
  });
});

describe('Kubernetes NetworkPolicy validation', () => {
  const knp = (spec: unknown) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'k', namespace: 'ns' }, spec });
  const cases: { name: string; spec: unknown; path: string; message: RegExp }[] = [
    { name: 'unknown protocol', spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'ICMP', port: 1 }] }] }, path: 'spec.ingress[0].ports[0].protocol', message: /unsupported protocol/ },
    { name: 'port 0', spec: { podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] }, path: 'spec.ingress[0].ports[0].port', message: /out of range/ },
    { name: 'endPort below port', spec: { podSelector: {}, egress: [{ ports: [{ port: 90, endPort: 80 }] }], policyTypes: ['Egress'] }, path: 'spec.egress[0].ports[0].endPort', message: /must be in 90-65535/ },
    { name: 'bad port name', spec: { podSelector: {}, ingress: [{ ports: [{ port: 'Not Valid' }] }] }, path: 'spec.ingress[0].ports[0].port', message: /invalid port name/ },
    { name: 'ipBlock except outside cidr', spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/8'] } }] }] }, path: 'spec.ingress[0].from[0].ipBlock.except[0]', message: /not a CIDR inside/ },
    { name: 'bad policyType', spec: { podSelector: {}, policyTypes: ['Sideways'] }, path: 'spec.policyTypes[0]', message: /Ingress or Egress/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const res = parsePolicy(knp(c.spec));
      expect(res.rules).to.have.length(0);
      expect(res.errors.some((e) => e.path === c.path && c.message.test(e.message)), JSON.stringify(res.errors)).to.equal(true);
    });
  }
  it('defaults policyTypes to Ingress plus Egress when egress rules exist', () => {
    const res = parsePolicy(knp({ podSelector: {}, egress: [{}] }));
    expect(res.rules[0]!.hasDirection).to.deep.equal({ ingress: true, egress: true });
    expect(res.rules[0]!.defaultDeny).to.deep.equal({ ingress: true, egress: true });
  });
});
