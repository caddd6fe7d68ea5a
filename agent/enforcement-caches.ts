/**
 * The cluster state a node's enforcement follows, as caches (informers): policies of each kind the
 * node enforces, identities, this node's pods, namespaces, CiliumEndpoints, Nodes, Services,
 * EndpointSlices and CiliumCIDRGroups. Building them opens no connection: the Manager starts them.
 */
import type { KubeConfig, KubernetesObject, V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { CiliumIdentityObject } from '../identity/ciliumidentity.ts';
import type { PolicyKind } from '../policy/api/model.ts';
import type { Informer } from '../runtime/informer.ts';
import { kubeInformer } from '../runtime/kube-list-watch.ts';
import type { Logger } from '../runtime/logger.ts';
import type { ResourceRef } from '../runtime/resource.ts';
import type { CiliumEndpointLike } from './ipcache-controllers.ts';
import type { CiliumCidrGroupObject } from './policy-feed.ts';
import { CCNP_REF, CEP_REF, CIDR_GROUP_REF, CNP_REF, IDENTITY_REF, KNP_REF, NAMESPACE_REF, NODE_REF, POD_REF } from './resources.ts';
import { ENDPOINT_SLICE_REF, SERVICE_REF } from './service-controllers.ts';

const POLICY_KINDS: [PolicyKind, ResourceRef][] = [
  ['CiliumNetworkPolicy', CNP_REF], ['CiliumClusterwideNetworkPolicy', CCNP_REF], ['NetworkPolicy', KNP_REF],
];

/** What the caches need. */
export interface EnforcementCachesDeps {
  kc: KubeConfig;
  nodeName: string;
  /** false: Kubernetes NetworkPolicy is not followed. */
  k8sNetworkPolicy?: boolean;
  /** A Node informer the caller already runs; default: one of these caches. */
  nodes?: Informer<V1Node>;
  log: Logger;
}

/** The caches, by what they hold. */
export interface EnforcementCaches {
  policies: ReadonlyArray<readonly [PolicyKind, Informer<KubernetesObject>]>;
  identities: Informer<CiliumIdentityObject & KubernetesObject>;
  /** This node's pods. */
  pods: Informer<V1Pod>;
  namespaces: Informer<V1Namespace>;
  ceps: Informer<CiliumEndpointLike>;
  nodes: Informer<V1Node>;
  services: Informer<V1Service>;
  slices: Informer<V1EndpointSlice>;
  cidrGroups: Informer<CiliumCidrGroupObject>;
  /** Every cache the Manager must start (the caller's Node informer excluded). */
  all: Informer<KubernetesObject>[];
}

/** Builds the caches; nothing connects until the Manager starts them. */
export function enforcementCaches(d: EnforcementCachesDeps): EnforcementCaches {
  const informer = <T extends KubernetesObject>(ref: ResourceRef, opts: Parameters<typeof kubeInformer>[2] = {}) => kubeInformer<T>(d.kc, ref, opts, { log: d.log });
  const policies = POLICY_KINDS.filter(([kind]) => kind !== 'NetworkPolicy' || d.k8sNetworkPolicy !== false).map(([kind, ref]) => [kind, informer<KubernetesObject>(ref)] as const);
  const c = {
    policies,
    identities: informer<CiliumIdentityObject & KubernetesObject>(IDENTITY_REF),
    pods: informer<V1Pod>(POD_REF, { fieldSelector: `spec.nodeName=${d.nodeName}` }),
    namespaces: informer<V1Namespace>(NAMESPACE_REF),
    ceps: informer<CiliumEndpointLike>(CEP_REF),
    nodes: d.nodes ?? informer<V1Node>(NODE_REF),
    services: informer<V1Service>(SERVICE_REF),
    slices: informer<V1EndpointSlice>(ENDPOINT_SLICE_REF),
    cidrGroups: informer<CiliumCidrGroupObject>(CIDR_GROUP_REF),
  };
  const all = [...policies.map(([, cache]) => cache), c.cidrGroups, c.identities, c.ceps, c.pods, c.namespaces, c.services, c.slices, ...(d.nodes ? [] : [c.nodes])];
  return { ...c, all: all as Informer<KubernetesObject>[] };
}
