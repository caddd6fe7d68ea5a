/**
 * The agent's Hubble server: the node's decided flow events, enriched with what the agent knows of
 * both ends (pods from CiliumEndpoints and local endpoints, labels from identities), kept in a ring
 * and served over gRPC on `hubble-socket-path` and `hubble-listen-address`. Peers are the cluster's
 * nodes at their InternalIP and this node's Hubble port.
 */
import type { V1Node } from '@kubernetes/client-node';
import type { FlowEndpoint } from '../hubble/flow-types.ts';
import type { HubbleMetrics } from '../hubble/metrics/hubble-metrics.ts';
import { FlowRing } from '../hubble/ring.ts';
import { HubbleServer, type HubblePeer, type PeerSource } from '../hubble/server.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import type { FlowSink } from './flow-log.ts';
import { toHubbleFlow, type FlowContext } from './hubble-flow.ts';
import { KernelLostEvents } from './kernel-lost-events.ts';
import type { CiliumEndpointLike } from './ipcache-controllers.ts';

/** The version Ciliate's Hubble server reports. */
export const HUBBLE_SERVER_VERSION = 'ciliate-0.1.0';

/** What the agent's Hubble needs. */
export interface AgentHubbleOptions {
  nodeName: string;
  clusterName: string;
  nodeIP: string;
  socketPath: string;
  /** TCP listener; undefined: the unix socket only. */
  listen: { host: string; port: number } | undefined;
  capacity: number;
  enforcer: Pick<EndpointEnforcer, 'endpoints'>;
  engine: Pick<PolicyEngine, 'selectorCache'>;
  ceps: Informer<CiliumEndpointLike>;
  nodes: Informer<V1Node>;
  log: Logger;
  /** The metrics `hubble-metrics` enables; counted from every flow of the ring. */
  metrics?: HubbleMetrics;
  /** The kernel's count of flow events lost for a full event buffer (cumulative). */
  kernelLost?: () => bigint;
}

/** How often the kernel's lost-event counter is read. */
const KERNEL_LOST_POLL_MS = 1000;

/** The agent's Hubble: a sink for its flow events and a runnable serving them. */
export interface AgentHubble {
  sink: FlowSink;
  runnable: Runnable;
  ring: FlowRing;
}

/** Pods by address from the cluster's CiliumEndpoints, kept current by the informer. */
function podsByAddress(ceps: Informer<CiliumEndpointLike>): Map<string, { namespace: string; name: string }> {
  const byIp = new Map<string, { namespace: string; name: string }>();
  const ips = (c: CiliumEndpointLike) => (c.status?.networking?.addressing ?? []).flatMap((a) => (a.ipv4 ? [a.ipv4] : []));
  ceps.addHandler(({ type, object, old }) => {
    for (const ip of old ? ips(old) : []) byIp.delete(ip);
    for (const ip of ips(object)) {
      if (type === 'deleted') byIp.delete(ip);
      else byIp.set(ip, { namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' });
    }
  });
  return byIp;
}

/** The cluster's nodes as Hubble peers. */
function nodePeers(nodes: Informer<V1Node>, port: number): PeerSource {
  const watchers = new Set<(type: 'PEER_ADDED' | 'PEER_DELETED' | 'PEER_UPDATED', peer: HubblePeer) => void>();
  const peer = (n: V1Node): HubblePeer => {
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
    return { name: n.metadata?.name ?? '', address: ip ? `${ip}:${port}` : '' };
  };
  nodes.addHandler(({ type, object, old }) => {
    if (type === 'updated' && old && peer(old).address === peer(object).address) return;
    const kind = type === 'added' ? 'PEER_ADDED' : type === 'deleted' ? 'PEER_DELETED' : 'PEER_UPDATED';
    for (const w of watchers) w(kind, peer(object));
  });
  return {
    list: () => nodes.list().map(peer),
    watch(onChange) {
      watchers.add(onChange);
      return () => watchers.delete(onChange);
    },
  };
}

/** Builds the agent's Hubble; it listens once the runnable starts. */
export function agentHubble(o: AgentHubbleOptions): AgentHubble {
  const ring = new FlowRing(o.capacity);
  const pods = podsByAddress(o.ceps);
  const port = o.listen?.port ?? 4244;
  const server = new HubbleServer(ring, {
    nodeName: o.nodeName, clusterName: o.clusterName, version: HUBBLE_SERVER_VERSION,
    address: o.listen ? `${o.nodeIP}:${o.listen.port}` : '', peers: nodePeers(o.nodes, port),
    onLost: (source, n) => o.metrics?.lost(source, n),
  });
  if (o.metrics) {
    const metrics = o.metrics;
    ring.listen((f) => metrics.process(f));
    o.ceps.addHandler(({ type, object }) => {
      if (type === 'deleted' && object.metadata?.name) metrics.podDeleted(object.metadata.namespace ?? '', object.metadata.name);
    });
  }
  const kernelLost = o.kernelLost && new KernelLostEvents(o.kernelLost, (n) => {
    o.log.warn('flow events lost: the kernel event buffer was full', { lost: n });
    server.reportLost('PERF_EVENT_RING_BUFFER', n);
    o.metrics?.lost('PERF_EVENT_RING_BUFFER', n);
  });
  const labelsOf = (identity: number) => o.engine.selectorCache.identityLabels(identity)?.toStrings() ?? [];
  const sink: FlowSink = (flows) => {
    // Local endpoints first (they are known before their CiliumEndpoint is written), then the cluster's.
    const local = new Map(o.enforcer.endpoints().map((e) => [e.request.ip, e] as const));
    const ctx: FlowContext = {
      nodeName: o.nodeName, clusterName: o.clusterName,
      endpoint(ip, identity): FlowEndpoint {
        const ep = local.get(ip);
        const pod = ep?.request.podName ? { namespace: ep.request.podNamespace, name: ep.request.podName } : pods.get(ip);
        return {
          identity, labels: labelsOf(identity), ...(ep ? { ID: ep.id } : {}),
          ...(pod ? { namespace: pod.namespace, pod_name: pod.name } : {}),
        };
      },
    };
    for (const d of flows) ring.push(toHubbleFlow(d.event, d.origins, ctx, d.time));
  };
  const runnable: Runnable = {
    needLeaderElection: false,
    async start(signal) {
      const tcp = o.listen ? `${o.listen.host || '0.0.0.0'}:${o.listen.port}` : undefined;
      await server.listen(o.socketPath, tcp);
      o.log.info('Hubble server listening', { socket: o.socketPath, ...(tcp ? { address: tcp } : {}), capacity: o.capacity });
      kernelLost?.poll();
      const timer = kernelLost && setInterval(() => kernelLost.poll(), KERNEL_LOST_POLL_MS);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      clearInterval(timer);
      server.close();
    },
  };
  return { sink, runnable, ring };
}
