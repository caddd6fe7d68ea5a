/**
 * Numeric security identities: the reserved numbers, the ranges and the bit layout.
 *
 * Layout of a 32-bit identity:
 *   bits 0-15  cluster-local identity (256..65535 are allocated, 1..255 reserved)
 *   bits 16-23 cluster id in a ClusterMesh (0 = this cluster)
 *   bits 24-31 scope: 0 global, 1 node-local (CIDR, FQDN, CIDR group), 2 remote-node
 * Node-local identities never leave the node, so they may use bit 24 and above.
 */

/** 0 is invalid as an endpoint identity; in a policy map key it means "any identity". */
export const IDENTITY_UNKNOWN = 0;

/** Reserved identity numbers, as upstream numbers them. */
export const ReservedIdentity = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
  'world-ipv4': 9,
  'world-ipv6': 10,
  'overlay-to-encrypt': 11,
} as const;

/** Name of a reserved identity (also its `reserved:` label key). */
export type ReservedIdentityName = keyof typeof ReservedIdentity;

/** First number handed out to cluster-wide identities. */
export const MIN_CLUSTER_IDENTITY = 256;
/** Last cluster-local identity number (16 bits). */
export const MAX_CLUSTER_IDENTITY = 0xffff;
/** First number users may reserve themselves. */
export const USER_RESERVED_IDENTITY = 128;
/** Scope bit for node-local identities (CIDR, FQDN, CIDR group). */
export const IDENTITY_SCOPE_LOCAL = 1 << 24;
/** Scope value for remote-node identities derived from node labels. */
export const IDENTITY_SCOPE_REMOTE_NODE = 2 << 24;
/** Mask selecting the scope byte. */
export const IDENTITY_SCOPE_MASK = 0xff000000;
/** Smallest node-local identity. */
export const MIN_LOCAL_IDENTITY = IDENTITY_SCOPE_LOCAL + 1;
/** Largest node-local identity (scope 1, all 24 low bits set). */
export const MAX_LOCAL_IDENTITY = IDENTITY_SCOPE_LOCAL + 0xffffff;

const RESERVED_BY_NUMBER = new Map<number, ReservedIdentityName>(
  Object.entries(ReservedIdentity).map(([name, id]) => [id, name as ReservedIdentityName]),
);

/** The reserved name of `id`, or undefined when it is not a reserved identity. */
export function reservedName(id: number): ReservedIdentityName | undefined {
  return RESERVED_BY_NUMBER.get(id);
}

/** True for identities 1..255 (reserved, well-known and user-reserved). */
export function isReservedRange(id: number): boolean {
  return id > 0 && id < MIN_CLUSTER_IDENTITY;
}

/** The scope byte of `id` (0 global, 1<<24 local, 2<<24 remote-node). */
export function identityScope(id: number): number {
  return (id & IDENTITY_SCOPE_MASK) >>> 0;
}

/** True for node-local (CIDR/FQDN) identities. */
export function isLocalIdentity(id: number): boolean {
  return identityScope(id) === IDENTITY_SCOPE_LOCAL;
}

/** The ClusterMesh cluster id carried in bits 16-23 of a global identity. */
export function clusterIdOf(id: number, clusterShift = 16): number {
  if (identityScope(id) !== 0) return 0;
  return id >>> clusterShift;
}

/** Range `[min, max]` of global identities a cluster with `clusterId` allocates from. */
export function clusterIdentityRange(clusterId: number, clusterShift = 16): { min: number; max: number } {
  if (clusterId === 0) return { min: MIN_CLUSTER_IDENTITY, max: MAX_CLUSTER_IDENTITY };
  const base = clusterId << clusterShift;
  return { min: base, max: base + (1 << clusterShift) - 1 };
}
