import { expect } from 'chai';
import { staleFiles } from '../../crds/generate.ts';
import { CRDS } from '../../crds/definitions.ts';
import { crdObject } from '../../crds/render.ts';

describe('CRD definitions', () => {
  it('the checked-in YAML and types match crds/definitions.ts (run npm run gen:crds)', () => {
    expect(staleFiles()).to.deep.equal([]);
  });

  // Names, scope and columns users already type, as upstream Cilium 1.17/1.18 serves them.
  const upstream: [string, string, string, string[], string[]][] = [
    ['CiliumNetworkPolicy', 'ciliumnetworkpolicies', 'Namespaced', ['cnp', 'ciliumnp'], ['Age', 'Valid']],
    ['CiliumClusterwideNetworkPolicy', 'ciliumclusterwidenetworkpolicies', 'Cluster', ['ccnp'], ['Valid']],
    ['CiliumEndpoint', 'ciliumendpoints', 'Namespaced', ['cep', 'ciliumep'], ['Security Identity', 'Endpoint State', 'IPv4', 'IPv6', 'Ingress Enforcement', 'Egress Enforcement']],
    ['CiliumIdentity', 'ciliumidentities', 'Cluster', ['ciliumid'], ['Namespace', 'Age']],
    ['CiliumNode', 'ciliumnodes', 'Cluster', ['cn', 'ciliumn'], ['CiliumInternalIP', 'InternalIP', 'Age']],
    ['CiliumPodIPPool', 'ciliumpodippools', 'Cluster', ['cpip'], []],
    ['CiliumLoadBalancerIPPool', 'ciliumloadbalancerippools', 'Cluster', ['ippools', 'ippool', 'lbippool', 'lbippools'], ['Disabled', 'Conflicting', 'IPs Available', 'Age']],
    ['CiliumCIDRGroup', 'ciliumcidrgroups', 'Cluster', ['ccg'], []],
    ['CiliumBGPClusterConfig', 'ciliumbgpclusterconfigs', 'Cluster', ['cbgpcluster'], ['Age']],
    ['CiliumBGPPeerConfig', 'ciliumbgppeerconfigs', 'Cluster', ['cbgppeer'], ['Age']],
    ['CiliumBGPAdvertisement', 'ciliumbgpadvertisements', 'Cluster', ['cbgpadvert'], ['Age']],
    ['CiliumBGPNodeConfig', 'ciliumbgpnodeconfigs', 'Cluster', ['cbgpnode'], ['Age']],
    ['CiliumEnvoyConfig', 'ciliumenvoyconfigs', 'Namespaced', ['cec'], ['Age']],
    ['CiliumClusterwideEnvoyConfig', 'ciliumclusterwideenvoyconfigs', 'Cluster', ['ccec'], ['Age']],
  ];

  for (const [kind, plural, scope, shortNames, columns] of upstream) {
    it(`${kind} has upstream's plural, scope, short names and columns`, () => {
      const crd = CRDS.find((c) => c.kind === kind);
      expect(crd, kind).to.not.equal(undefined);
      expect(crd!.plural).to.equal(plural);
      expect(crd!.scope).to.equal(scope);
      expect(crd!.shortNames).to.deep.equal(shortNames);
      const storage = crd!.versions.find((v) => v.storage)!;
      expect(storage.columns.map((c) => c.name)).to.deep.equal(columns);
    });
  }

  it('serves exactly one storage version per CRD, and status subresources as upstream', () => {
    for (const crd of CRDS) expect(crd.versions.filter((v) => v.storage), crd.kind).to.have.length(1);
    const withStatus = CRDS.filter((c) => c.versions[0]!.status).map((c) => c.kind).sort();
    expect(withStatus).to.deep.equal([
      'CiliumBGPClusterConfig', 'CiliumBGPNodeConfig', 'CiliumBGPPeerConfig', 'CiliumClusterwideNetworkPolicy',
      'CiliumIdentity', 'CiliumLoadBalancerIPPool', 'CiliumNetworkPolicy', 'CiliumNode',
    ]);
  });

  it('puts the CiliumEndpoint enforcement columns at priority 1 (-o wide)', () => {
    type Rendered = { spec: { versions: { additionalPrinterColumns: { jsonPath: string; priority?: number }[] }[] } };
    const cols = (crdObject(CRDS.find((c) => c.kind === 'CiliumEndpoint')!) as unknown as Rendered).spec.versions[0]!.additionalPrinterColumns;
    const wide = cols.filter((c) => c.priority === 1).map((c) => c.jsonPath);
    expect(wide).to.deep.equal(['.status.policy.ingress.state', '.status.policy.egress.state']);
  });
});
