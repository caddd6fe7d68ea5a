/** The resources the agent watches, as the controller runtime addresses them. */
import type { ResourceRef } from '../runtime/resource.ts';

/** CiliumNetworkPolicy. */
export const CNP_REF: ResourceRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', plural: 'ciliumnetworkpolicies', namespaced: true };
/** CiliumClusterwideNetworkPolicy. */
export const CCNP_REF: ResourceRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', plural: 'ciliumclusterwidenetworkpolicies', namespaced: false };
/** Kubernetes NetworkPolicy. */
export const KNP_REF: ResourceRef = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true };
/** CiliumIdentity. */
export const IDENTITY_REF: ResourceRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity', plural: 'ciliumidentities', namespaced: false };
/** CiliumEndpoint. */
export const CEP_REF: ResourceRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumEndpoint', plural: 'ciliumendpoints', namespaced: true };
/** CiliumNode. */
export const CILIUM_NODE_REF: ResourceRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumNode', plural: 'ciliumnodes', namespaced: false };
/** Node. */
export const NODE_REF: ResourceRef = { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
/** Pod. */
export const POD_REF: ResourceRef = { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
/** Namespace. */
export const NAMESPACE_REF: ResourceRef = { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };
/** CiliumCIDRGroup (v2alpha1 is the stored version and always served). */
export const CIDR_GROUP_REF: ResourceRef = { apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumCIDRGroup', plural: 'ciliumcidrgroups', namespaced: false };
