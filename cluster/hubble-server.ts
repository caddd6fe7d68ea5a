/** Where a local cluster's Hubble API answers for clients on the host. */
import { hubbleSocketPath } from './agent-launch.ts';
import type { ClusterConfig } from './config.ts';

/**
 * The gRPC target of the cluster's Hubble: its relay on loopback (the whole cluster), or for a
 * cluster started before it ran one, the first node's agent socket; undefined without nodes.
 */
export function hubbleServer(c: Pick<ClusterConfig, 'hubbleRelay' | 'nodes'>): string | undefined {
  if (c.hubbleRelay) return `127.0.0.1:${c.hubbleRelay.port}`;
  const first = c.nodes?.[0];
  return first ? `unix://${hubbleSocketPath(first)}` : undefined;
}
