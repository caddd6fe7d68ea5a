/**
 * The cilium.io custom resources Ciliate serves: names, scope, versions, printer columns and
 * schemas, matching upstream Cilium 1.17/1.18. This file is the single source of truth for the CRD
 * YAML in this folder and for crds/types.generated.ts (both made by crds/generate.ts).
 */
import { map, named, obj, str, withRules, type Schema } from './schema/dsl.ts';
import { endpointStatus } from './schema/endpoint.ts';
import { checkedRule, policyStatus, rule } from './schema/policy.ts';
import { cidrGroupSpec, lbIPPoolSpec, lbIPPoolStatus, nodeSpec, nodeStatus, podIPPoolSpec } from './schema/node.ts';
import {
  bgpAdvertisementSpec, bgpClusterConfigSpec, bgpNodeConfigSpec, bgpNodeConfigStatus, bgpPeerConfigSpec, conditionsStatus,
} from './schema/bgp.ts';
import { envoyConfigSpec } from './schema/envoy.ts';
import { arr } from './schema/dsl.ts';

/** The API group of every Ciliate CRD. */
export const GROUP = 'cilium.io';

/** A column `kubectl get` prints. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date' | 'number';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** One served version of a CRD. */
export interface VersionDef {
  name: string;
  storage: boolean;
  deprecated?: boolean;
  status: boolean;
  columns: PrinterColumn[];
  /** Top-level fields besides apiVersion/kind/metadata (spec, status, ...). */
  fields: Record<string, Schema>;
  required?: string[];
  rules?: Schema['x-kubernetes-validations'];
}

/** Everything needed to render one CustomResourceDefinition. */
export interface CrdDef {
  kind: string;
  plural: string;
  singular: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames: string[];
  categories: string[];
  versions: VersionDef[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const valid: PrinterColumn = {
  name: 'Valid', type: 'string', jsonPath: ".status.conditions[?(@.type=='Valid')].status", description: 'Whether the policy passed validation',
};

function policyVersion(clusterwide: boolean): VersionDef {
  const nodeSelectorRules = clusterwide
    ? []
    : [
        { rule: '!has(self.spec) || !has(self.spec.nodeSelector)', message: 'nodeSelector is only valid in a CiliumClusterwideNetworkPolicy', fieldPath: '.spec.nodeSelector' },
        { rule: '!has(self.specs) || self.specs.all(r, !has(r.nodeSelector))', message: 'nodeSelector is only valid in a CiliumClusterwideNetworkPolicy', fieldPath: '.specs' },
      ];
  return {
    name: 'v2',
    storage: true,
    status: true,
    columns: clusterwide ? [valid] : [age, valid],
    fields: { spec: checkedRule, specs: arr(rule), status: policyStatus },
    rules: [{ rule: 'has(self.spec) || has(self.specs)', message: 'a policy needs spec or specs' }, ...nodeSelectorRules],
  };
}

/** Every CRD Ciliate installs. */
export const CRDS: CrdDef[] = [
  {
    kind: 'CiliumNetworkPolicy', plural: 'ciliumnetworkpolicies', singular: 'ciliumnetworkpolicy', scope: 'Namespaced',
    shortNames: ['cnp', 'ciliumnp'], categories: ['cilium', 'ciliumpolicy'], versions: [policyVersion(false)],
  },
  {
    kind: 'CiliumClusterwideNetworkPolicy', plural: 'ciliumclusterwidenetworkpolicies', singular: 'ciliumclusterwidenetworkpolicy',
    scope: 'Cluster', shortNames: ['ccnp'], categories: ['cilium', 'ciliumpolicy'], versions: [policyVersion(true)],
  },
  {
    kind: 'CiliumEndpoint', plural: 'ciliumendpoints', singular: 'ciliumendpoint', scope: 'Namespaced',
    shortNames: ['cep', 'ciliumep'], categories: ['cilium'],
    versions: [{
      name: 'v2', storage: true, status: false,
      columns: [
        { name: 'Security Identity', type: 'integer', jsonPath: '.status.identity.id', description: 'Security identity of the endpoint' },
        { name: 'Endpoint State', type: 'string', jsonPath: '.status.state', description: 'Endpoint current state' },
        { name: 'IPv4', type: 'string', jsonPath: '.status.networking.addressing[0].ipv4', description: 'Endpoint IPv4 address' },
        { name: 'IPv6', type: 'string', jsonPath: '.status.networking.addressing[0].ipv6', description: 'Endpoint IPv6 address' },
        { name: 'Ingress Enforcement', type: 'string', jsonPath: '.status.policy.ingress.state', description: 'Ingress enforcement in the endpoint', priority: 1 },
        { name: 'Egress Enforcement', type: 'string', jsonPath: '.status.policy.egress.state', description: 'Egress enforcement in the endpoint', priority: 1 },
      ],
      fields: { status: endpointStatus },
    }],
  },
  {
    kind: 'CiliumIdentity', plural: 'ciliumidentities', singular: 'ciliumidentity', scope: 'Cluster',
    shortNames: ['ciliumid'], categories: ['cilium'],
    versions: [{
      name: 'v2', storage: true, status: true,
      columns: [{ name: 'Namespace', type: 'string', jsonPath: '.metadata.labels.io\\.kubernetes\\.pod\\.namespace', description: 'The namespace of the entity' }, age],
      fields: {
        'security-labels': withRules(
          map(str(), { description: 'The full source-prefixed label set of the identity, e.g. k8s:app: web.' }),
          { rule: 'self.all(k, k.contains(\':\'))', message: 'every security label key needs a source prefix such as k8s: or reserved:' },
        ),
      },
      required: ['metadata', 'security-labels'],
      rules: [{ rule: "self.metadata.name.matches('^[1-9][0-9]*$')", message: 'the name of a CiliumIdentity is its numeric identity' }],
    }],
  },
  {
    kind: 'CiliumNode', plural: 'ciliumnodes', singular: 'ciliumnode', scope: 'Cluster', shortNames: ['cn', 'ciliumn'], categories: ['cilium'],
    versions: [{
      name: 'v2', storage: true, status: true,
      columns: [
        { name: 'CiliumInternalIP', type: 'string', jsonPath: '.spec.addresses[?(@.type=="CiliumInternalIP")].ip', description: 'Cilium internal IP for this node' },
        { name: 'InternalIP', type: 'string', jsonPath: '.spec.addresses[?(@.type=="InternalIP")].ip', description: 'IP of the node' },
        age,
      ],
      fields: { spec: nodeSpec, status: nodeStatus },
      required: ['metadata', 'spec'],
    }],
  },
  {
    kind: 'CiliumPodIPPool', plural: 'ciliumpodippools', singular: 'ciliumpodippool', scope: 'Cluster', shortNames: ['cpip'], categories: ['cilium'],
    versions: ['v2alpha1', 'v2'].map((name) => ({ name, storage: name === 'v2alpha1', status: false, columns: [], fields: { spec: podIPPoolSpec }, required: ['metadata', 'spec'] })),
  },
  {
    kind: 'CiliumLoadBalancerIPPool', plural: 'ciliumloadbalancerippools', singular: 'ciliumloadbalancerippool', scope: 'Cluster',
    shortNames: ['ippools', 'ippool', 'lbippool', 'lbippools'], categories: ['cilium'],
    versions: ['v2', 'v2alpha1'].map((name) => ({
      name, storage: name === 'v2', status: true,
      columns: [
        { name: 'Disabled', type: 'boolean', jsonPath: '.spec.disabled' },
        { name: 'Conflicting', type: 'string', jsonPath: '.status.conditions[?(@.type=="cilium.io/PoolConflict")].status' },
        { name: 'IPs Available', type: 'string', jsonPath: '.status.conditions[?(@.type=="cilium.io/IPsAvailable")].message' },
        age,
      ],
      fields: { spec: lbIPPoolSpec, status: lbIPPoolStatus },
      required: ['metadata', 'spec'],
    })),
  },
  {
    kind: 'CiliumCIDRGroup', plural: 'ciliumcidrgroups', singular: 'ciliumcidrgroup', scope: 'Cluster', shortNames: ['ccg'], categories: ['cilium'],
    versions: ['v2alpha1', 'v2'].map((name) => ({ name, storage: name === 'v2alpha1', status: false, columns: [], fields: { spec: cidrGroupSpec }, required: ['metadata', 'spec'] })),
  },
  bgpKind('CiliumBGPClusterConfig', 'ciliumbgpclusterconfigs', 'cbgpcluster', true, (a) => bgpClusterConfigSpec(a), conditionsStatus),
  bgpKind('CiliumBGPPeerConfig', 'ciliumbgppeerconfigs', 'cbgppeer', true, (a) => bgpPeerConfigSpec(a), conditionsStatus),
  bgpKind('CiliumBGPAdvertisement', 'ciliumbgpadvertisements', 'cbgpadvert', false, () => bgpAdvertisementSpec),
  bgpKind('CiliumBGPNodeConfig', 'ciliumbgpnodeconfigs', 'cbgpnode', true, (a) => bgpNodeConfigSpec(a), bgpNodeConfigStatus),
  envoyKind('CiliumEnvoyConfig', 'ciliumenvoyconfigs', 'cec', 'Namespaced'),
  envoyKind('CiliumClusterwideEnvoyConfig', 'ciliumclusterwideenvoyconfigs', 'ccec', 'Cluster'),
];

function bgpKind(kind: string, plural: string, short: string, status: boolean, spec: (alpha: boolean) => Schema, statusSchema?: Schema): CrdDef {
  return {
    kind, plural, singular: plural.replace(/s$/, ''), scope: 'Cluster', shortNames: [short], categories: ['cilium', 'ciliumbgp'],
    versions: ['v2', 'v2alpha1'].map((name) => ({
      name, storage: name === 'v2', deprecated: name === 'v2alpha1', status, columns: [age],
      fields: { spec: spec(name === 'v2alpha1'), ...(statusSchema ? { status: statusSchema } : {}) },
      required: ['metadata', 'spec'],
    })),
  };
}

function envoyKind(kind: string, plural: string, short: string, scope: CrdDef['scope']): CrdDef {
  return {
    kind, plural, singular: plural.replace(/s$/, ''), scope, shortNames: [short], categories: ['cilium'],
    versions: [{ name: 'v2', storage: true, status: false, columns: [age], fields: { spec: envoyConfigSpec } }],
  };
}

/** The root object schema of one version: apiVersion, kind, metadata plus the version's fields. */
export function rootSchema(crd: CrdDef, v: VersionDef): Schema {
  const root = obj(
    {
      apiVersion: str({ description: 'The versioned schema of this representation of an object.' }),
      kind: str({ description: 'The REST resource this object represents.' }),
      metadata: { type: 'object' },
      ...v.fields,
    },
    { description: `${crd.kind} (${GROUP}/${v.name}).`, ...(v.required ? { required: v.required } : {}) },
  );
  if (v.rules?.length) root['x-kubernetes-validations'] = v.rules;
  return named(`${crd.kind}${v.storage ? '' : v.name.replace(/^v/, 'V')}`, root);
}
