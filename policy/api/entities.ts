/**
 * Entities (`fromEntities` / `toEntities`) and the selectors they expand to.
 */
import { CLUSTER_LABEL } from '../../identity/pod-labels.ts';
import type { PeerSelector } from './model.ts';
import { labelSelector, requirement } from './parse-selector.ts';

/** Entity names accepted by the CRD (plus world-ipv4/world-ipv6 that the code also knows). */
export const ENTITIES = [
  'all', 'world', 'world-ipv4', 'world-ipv6', 'cluster', 'host', 'init', 'ingress', 'unmanaged',
  'remote-node', 'health', 'none', 'kube-apiserver',
] as const;

/** One of {@link ENTITIES}. */
export type Entity = (typeof ENTITIES)[number];

/** True when `s` names an entity. */
export function isEntity(s: string): s is Entity {
  return (ENTITIES as readonly string[]).includes(s);
}

const reserved = (name: string): PeerSelector => labelSelector([requirement('reserved', name, 'Exists')]);

const CLUSTER_RESERVED = ['host', 'remote-node', 'init', 'ingress', 'health', 'unmanaged', 'kube-apiserver'];

/**
 * The selectors an entity stands for. `all` is the wildcard (identity 0); `none` selects nothing;
 * `world` covers world, world-ipv4 and world-ipv6 (and so every CIDR identity, which carries a
 * world label); `cluster` covers the in-cluster reserved identities and every endpoint labelled
 * with this cluster's name.
 */
export function entitySelectors(entity: Entity, clusterName: string): PeerSelector[] {
  switch (entity) {
    case 'all':
      return [{ kind: 'wildcard' }];
    case 'none':
      return [];
    case 'world':
      return [reserved('world'), reserved('world-ipv4'), reserved('world-ipv6')];
    case 'cluster':
      return [
        ...CLUSTER_RESERVED.map(reserved),
        labelSelector([requirement('k8s', CLUSTER_LABEL, 'In', [clusterName])]),
      ];
    default:
      return [reserved(entity)];
  }
}
