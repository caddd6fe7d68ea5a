// Upstream documentation examples (star-wars demo, deny policies, requires, DNS, enableDefaultDeny,
// Kubernetes NetworkPolicy) with their documented outcomes.
import { expect } from 'chai';
import { fqdnIdentityLabels } from '../../policy/fqdn.ts';
import { ccnp, cnp, connect, engineWith, ID, policyFromYaml } from './support/world.ts';

const swL3L4 = `
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "rule1"
spec:
  description: "L3-L4 policy to restrict deathstar access to empire ships only"
  endpointSelector:
    matchLabels:
      org: empire
      class: deathstar
  ingress:
  - fromEndpoints:
    - matchLabels:
        org: empire
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`;

const swL7 = swL3L4
  .replace('L3-L4 policy to restrict deathstar access to empire ships only', 'L7 policy to restrict access to specific HTTP call')
  .concat(`      rules:
        http:
        - method: "POST"
          path: "/v1/request-landing"
`);

const swDeny = cnp('empire-default-deny', `
  endpointSelector: {matchLabels: {org: empire}}
  ingress:
  - {}
`);

const externalLockdown = ccnp('external-lockdown', `
  endpointSelector: {}
  ingressDeny:
  - fromEntities: [world]
  ingress:
  - fromEntities: [all]
`);

const interceptAllDns = ccnp('intercept-all-dns', `
  endpointSelector:
    matchExpressions:
    - {key: io.kubernetes.pod.namespace, operator: NotIn, values: [kube-system]}
  enableDefaultDeny: {egress: false, ingress: false}
  egress:
  - toEndpoints:
    - matchLabels: {io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
    toPorts:
    - ports: [{port: "53", protocol: TCP}, {port: "53", protocol: UDP}]
      rules:
        dns: [{matchPattern: "*"}]
`);

const dnsVisibility = cnp('tofqdn-dns-visibility', `
  endpointSelector: {matchLabels: {any:org: alliance}}
  egress:
  - toEndpoints:
    - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}
    toPorts:
    - ports: [{port: "53", protocol: ANY}]
      rules:
        dns: [{matchPattern: "*"}]
  - toFQDNs:
    - matchName: cilium.io
    - matchName: sub.cilium.io
    - matchPattern: "*.sub.cilium.io"
`);

const requiresPolicy = cnp('requires-empire', `
  endpointSelector: {matchLabels: {class: deathstar}}
  ingress:
  - fromRequires:
    - matchLabels: {org: empire}
  - fromEndpoints:
    - matchLabels: {class: tiefighter}
    - matchLabels: {class: xwing}
`);

const knp = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: echo-ingress-knp}
spec:
  podSelector: {matchLabels: {kind: echo}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {kind: client}}
    ports:
    - {port: 8080, protocol: TCP}
`;

const knpNamespace = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-kube-system}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
`;

describe('upstream documentation examples', () => {
  describe('star-wars demo L3/L4 (sw_l3_l4_policy.yaml)', () => {
    const e = engineWith([swL3L4], {}, 'default');
    it('tiefighter lands on deathstar:80', () => expect(connect(e, ID.tiefighter, ID.deathstar, 'TCP', 80).result).to.equal('OK'));
    it('xwing is dropped', () => expect(connect(e, ID.xwing, ID.deathstar, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop'));
    it('tiefighter on another port is dropped', () => expect(connect(e, ID.tiefighter, ID.deathstar, 'TCP', 81).result).to.equal('DefaultDenyIngressDrop'));
    it('pods of other namespaces are not empire peers', () => expect(connect(e, ID.client, ID.deathstar, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop'));
  });

  describe('star-wars demo L7 (sw_l3_l4_l7_policy.yaml)', () => {
    const e = engineWith([swL7], {}, 'default');
    it('tiefighter is redirected to the HTTP proxy with the rule it enforces', () => {
      const v = connect(e, ID.tiefighter, ID.deathstar, 'TCP', 80);
      expect(v.result).to.equal('Redirect');
      expect(v.ingress!.match!.entry.redirect).to.deep.equal({
        parser: 'http', rules: [{ parser: 'http', http: [{ method: 'POST', path: '/v1/request-landing' }] }], allowAll: false,
      });
    });
    it('xwing is dropped at L3', () => expect(connect(e, ID.xwing, ID.deathstar, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop'));
  });

  describe('empire-default-deny (ingress: [{}])', () => {
    const e = engineWith([swDeny], {}, 'default');
    it('selects empire pods and allows nothing', () => expect(connect(e, ID.xwing, ID.tiefighter, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop'));
    it('leaves other pods alone', () => expect(connect(e, ID.tiefighter, ID.xwing, 'TCP', 80).result).to.equal('OK'));
  });

  describe('external-lockdown CCNP (from_world_deny.yaml)', () => {
    const e = engineWith([externalLockdown]);
    it('denies world', () => expect(connect(e, ID.world, ID.echoSame, 'TCP', 8080).result).to.equal('PolicyDenyIngressDrop'));
    it('denies CIDR identities (they are world)', () => expect(connect(e, ID.cidr8, ID.echoSame, 'TCP', 8080).result).to.equal('PolicyDenyIngressDrop'));
    it('allows pods of any namespace', () => expect(connect(e, ID.tiefighter, ID.echoSame, 'TCP', 8080).result).to.equal('OK'));
    it('allows remote nodes', () => expect(connect(e, ID['remote-node'], ID.echoSame, 'TCP', 8080).result).to.equal('OK'));
  });

  describe('intercept-all-dns CCNP (enableDefaultDeny false)', () => {
    const e = engineWith([interceptAllDns]);
    it('redirects DNS to the proxy', () => expect(connect(e, ID.client, ID.kubeDns, 'UDP', 53).result).to.equal('Redirect'));
    it('does not put the pod into default deny', () => expect(connect(e, ID.client, ID.cidr8, 'TCP', 443).result).to.equal('OK'));
  });

  describe('DNS visibility + toFQDNs (dns-visibility.yaml)', () => {
    const e = engineWith([dnsVisibility], {}, 'default');
    it('sends DNS to the proxy', () => expect(connect(e, ID.xwing, ID.kubeDns, 'UDP', 53).result).to.equal('Redirect'));
    it('drops cilium.io before a DNS answer is known', () => expect(connect(e, ID.xwing, ID.world, 'TCP', 443).result).to.equal('DefaultDenyEgressDrop'));
    it('allows the IP once the DNS answer created its identity', () => {
      const id = (1 << 24) + 100;
      const diffs = e.updateIdentities([[id, fqdnIdentityLabels('104.198.14.52', ['cilium.io'])]]);
      expect(diffs.get(ID.xwing)!.added).to.have.length(1);
      expect(connect(e, ID.xwing, id, 'TCP', 443).result).to.equal('OK');
      const other = (1 << 24) + 101;
      e.updateIdentities([[other, fqdnIdentityLabels('1.2.3.4', ['a.b.sub.cilium.io'])]]);
      expect(connect(e, ID.xwing, other, 'TCP', 443).result).to.equal('DefaultDenyEgressDrop');
      const third = (1 << 24) + 102;
      e.updateIdentities([[third, fqdnIdentityLabels('1.2.3.5', ['a.sub.cilium.io'])]]);
      expect(connect(e, ID.xwing, third, 'TCP', 443).result).to.equal('OK');
    });
  });

  describe('fromRequires', () => {
    const e = engineWith([requiresPolicy], {}, 'default');
    it('lets tiefighter in (matches fromEndpoints and the requirement)', () => expect(connect(e, ID.tiefighter, ID.deathstar, 'TCP', 80).result).to.equal('OK'));
    it('keeps xwing out (selected by fromEndpoints but not org=empire)', () => expect(connect(e, ID.xwing, ID.deathstar, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop'));
  });

  describe('Kubernetes NetworkPolicy', () => {
    const e = engineWith([knp]);
    it('allows clients on 8080', () => expect(connect(e, ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('OK'));
    it('drops clients on other ports', () => expect(connect(e, ID.client, ID.echoSame, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop'));
    it('drops echo to echo', () => expect(connect(e, ID.echoOther, ID.echoSame, 'TCP', 8080).result).to.equal('DefaultDenyIngressDrop'));
    it('names the NetworkPolicy', () => {
      const v = connect(e, ID.client, ID.echoSame, 'TCP', 8080);
      expect(v.ingress!.derivedFrom[0]).to.include({ kind: 'NetworkPolicy', namespace: 'cilium-test-1', name: 'echo-ingress-knp' });
    });
    it('selects namespaces by their labels', () => {
      const e2 = engineWith([knpNamespace]);
      expect(connect(e2, ID.kubeDns, ID.client, 'TCP', 80).result).to.equal('OK');
      expect(connect(e2, ID.client2, ID.client, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop');
    });
  });

  describe('namespace scoping', () => {
    it('forces the policy namespace on a CNP subject and warns', () => {
      const res = policyFromYaml(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: x, namespace: a}
spec:
  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: b}}
`);
      expect(res.rules[0]!.subject.requirements).to.deep.equal([
        { source: 'k8s', key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['a'] },
      ]);
      expect(res.warnings.join()).to.match(/replaced by the policy namespace a/);
    });
    it('gives CCNP peers "namespace exists"', () => {
      const res = policyFromYaml(ccnp('x', `
  endpointSelector: {}
  ingress: [{fromEndpoints: [{}]}]
`));
      expect(res.rules[0]!.peerRules[0]!.peers).to.deep.equal([{
        kind: 'labels', requirements: [{ source: 'k8s', key: 'io.kubernetes.pod.namespace', operator: 'Exists', values: [] }],
      }]);
    });
    it('leaves reserved-label peers alone', () => {
      const res = policyFromYaml(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: x, namespace: a}
spec:
  endpointSelector: {}
  ingress: [{fromEndpoints: [{matchLabels: {reserved:host: ""}}]}]
`);
      expect(res.rules[0]!.peerRules[0]!.peers).to.deep.equal([{
        kind: 'labels', requirements: [{ source: 'reserved', key: 'host', operator: 'In', values: [''] }],
      }]);
    });
  });
});

describe('deny policies documentation table (allow L3 client + deny L4 80, then + deny L3 client)', () => {
  const allowClient = cnp('allow-client', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {name: client}}]
`);
  const denyPort80 = cnp('deny-80', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingressDeny:
  - toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`);
  const denyClient = cnp('deny-client', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {name: client}}]
`);
  it('deny on port 80 only: 81 allowed, 80 denied, ping allowed', () => {
    const e = engineWith([allowClient, denyPort80]);
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 81).result).to.equal('OK');
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 80).result).to.equal('PolicyDenyIngressDrop');
    expect(connect(e, ID.client, ID.echoSame, 'ICMP', 8).result).to.equal('OK');
  });
  it('plus deny on the client: everything denied', () => {
    const e = engineWith([allowClient, denyPort80, denyClient]);
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 81).result).to.equal('PolicyDenyIngressDrop');
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 80).result).to.equal('PolicyDenyIngressDrop');
    expect(connect(e, ID.client, ID.echoSame, 'ICMP', 8).result).to.equal('PolicyDenyIngressDrop');
  });
});
