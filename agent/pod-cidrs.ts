/**
 * Where a node's pod CIDRs come from: CiliumNode.spec.ipam.podCIDRs when the operator has written
 * them (and the cilium.io CRDs are installed), otherwise Node.spec.podCIDRs / podCIDR, which the
 * node runner sets when it registers the Node (10.244.<i>.0/24 for node i).
 */
import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import type { CacheReader } from '../runtime/informer.ts';
import { isIPv4Cidr } from './ipv4.ts';

/** The fields of a CiliumNode this module reads. */
export interface CiliumNodeLike extends KubernetesObject {
  spec?: { ipam?: { podCIDRs?: string[] } };
}

/** The IPv4 pod CIDRs of node `name`, from the caches (CiliumNode first, then Node). */
export function podCIDRsOf(name: string, nodes: Pick<CacheReader<V1Node>, 'get'>, ciliumNodes?: Pick<CacheReader<CiliumNodeLike>, 'get'>): string[] {
  const fromCilium = (ciliumNodes?.get(name)?.spec?.ipam?.podCIDRs ?? []).filter(isIPv4Cidr);
  if (fromCilium.length > 0) return fromCilium;
  const spec = nodes.get(name)?.spec;
  return (spec?.podCIDRs?.length ? spec.podCIDRs : spec?.podCIDR ? [spec.podCIDR] : []).filter(isIPv4Cidr);
}

/**
 * Every IPv4 pod CIDR a node may have pods in: its CiliumNode CIDRs and its Node CIDRs together,
 * so pods addressed before the operator wrote the CiliumNode stay reachable from other nodes.
 */
export function routedCIDRsOf(name: string, nodes: Pick<CacheReader<V1Node>, 'get'>, ciliumNodes?: Pick<CacheReader<CiliumNodeLike>, 'get'>): string[] {
  return [...new Set([...podCIDRsOf(name, nodes, ciliumNodes), ...podCIDRsOf(name, nodes)])];
}

/** A node's InternalIP address, if it reports one. */
export function internalIPOf(node: V1Node | undefined): string | undefined {
  return node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}
