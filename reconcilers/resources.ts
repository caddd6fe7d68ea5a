// ResourceRefs of everything the operator reads or writes.
import { RESOURCES } from '../crds/types.generated.ts';
import type { ResourceRef } from '../runtime/index.ts';

type CrdResource = (typeof RESOURCES)[keyof typeof RESOURCES];

/** The runtime ResourceRef of a generated cilium.io resource. */
export function crdRef(r: CrdResource): ResourceRef {
  return { apiVersion: `${r.group}/${r.version}`, kind: r.kind, plural: r.plural, namespaced: r.namespaced };
}

/** Every resource the operator uses. */
export const REFS = {
  node: { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  ciliumNode: crdRef(RESOURCES.CiliumNode),
  ciliumEndpoint: crdRef(RESOURCES.CiliumEndpoint),
  ciliumIdentity: crdRef(RESOURCES.CiliumIdentity),
  ciliumPodIPPool: crdRef(RESOURCES.CiliumPodIPPool),
  cnp: crdRef(RESOURCES.CiliumNetworkPolicy),
  ccnp: crdRef(RESOURCES.CiliumClusterwideNetworkPolicy),
} satisfies Record<string, ResourceRef>;
