// multi-pool IPAM: which CiliumPodIPPool a pod's addresses come from.

/** Annotation on a pod or namespace naming the pool, as upstream. */
export const IP_POOL_ANNOTATION = 'ipam.cilium.io/ip-pool';

/** The pool used when neither pod nor namespace names one. */
export const DEFAULT_POOL = 'default';

type Annotated = { metadata?: { annotations?: Record<string, string> | undefined } } | undefined;

/** The pool for a pod: its own annotation, else its namespace's, else `default`. */
export function poolForPod(pod: Annotated, namespace: Annotated): string {
  return pod?.metadata?.annotations?.[IP_POOL_ANNOTATION] || namespace?.metadata?.annotations?.[IP_POOL_ANNOTATION] || DEFAULT_POOL;
}
