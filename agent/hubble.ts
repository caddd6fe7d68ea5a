/**
 * The agent's Hubble server: the node's decided flow events, enriched with what the agent knows of
 * both ends (pods from CiliumEndpoints and local endpoints, labels from identities), kept in a ring
 * and served over gRPC on `hubble-socket-path` and `hubble-listen-address`. Peers are the cluster's
 * nodes at their InternalIP and this node's Hubble port.
 */
import { randomUUID } from 'node:crypto';
import type { V1EndpointSlice, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Flow, FlowEndpoint } from '../hubble/flow-types.ts';
import type { HubbleMetrics } from '../hubble/metrics/hubble-metrics.ts';
import { FlowRing, type FlowSource } from '../hubble/ring.ts';
import { HubbleServer, type HubblePeer, type PeerSource } from '../hubble/server.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { CacheReader, Informer } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import { parseWorkloadAnnotation, serviceBackendIndex, WORKLOAD_ANNOTATION, workloadOf, type FlowService, type FlowWorkload } from './flow-enrichment.ts';
import type { DecidedFlows, FlowSink } from './flow-log.ts';
import { toHubbleFlow } from './hubble-flow.ts';
import { KernelLostEvents } from './kernel-lost-events.ts';
import { cepAddresses, type CiliumEndpointLike } from './ipcache-controllers.ts';

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
  /**
   * This node's pods (their workloads; other nodes' pods are named by their CiliumEndpoints'
   * annotation) and the cluster's EndpointSlices (Services of backends).
   */
  pods: CacheReader<V1Pod>;
  slices: Informer<V1EndpointSlice>;
  engine: Pick<PolicyEngine, 'selectorCache'>;
  ceps: Informer<CiliumEndpointLike>;
  nodes: Informer<V1Node>;
  log: Logger;
  /** The metrics `hubble-metrics` enables; counted from every flow of the ring. */
  metrics?: HubbleMetrics;
  /** The kernel's count of flow events lost for a full event buffer (cumulative). */
  kernelLost?: () => bigint;
  /** The names the node's FQDN cache holds for an address (lower case, final dot). */
  fqdnNames?: (ip: string) => readonly string[];
}

/** How often the kernel's lost-event counter is read. */
const KERNEL_LOST_POLL_MS = 1000;

/** The agent's Hubble: a sink for its flow events and a runnable serving them. */
export interface AgentHubble {
  sink: FlowSink;
  runnable: Runnable;
  ring: FlowRing;
  /** What the agent knows of flow ends (for flows made outside the datapath: L7 proxies). */
  ends: FlowEndpointSource;
}

/** A pod a flow's end is, as the cluster's CiliumEndpoints tell it. */
export interface PodAtAddress {
  namespace: string;
  name: string;
  /** Its workload, from the CiliumEndpoint's annotation (written by the pod's own agent). */
  workload?: FlowWorkload;
}

/** Pods by address from the cluster's CiliumEndpoints, kept current by the informer. */
function podsByAddress(ceps: Informer<CiliumEndpointLike>): Map<string, PodAtAddress> {
  const byIp = new Map<string, PodAtAddress>();
  ceps.addHandler(({ type, object, old }) => {
    for (const ip of old ? cepAddresses(old) : []) byIp.delete(ip);
    const workload = parseWorkloadAnnotation(object.metadata?.annotations?.[WORKLOAD_ANNOTATION]);
    const pod = { namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '', ...(workload ? { workload } : {}) };
    for (const ip of cepAddresses(object)) {
      if (type === 'deleted') byIp.delete(ip);
      else byIp.set(ip, pod);
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

/** What the flow sink asks of the agent about the ends of flows. */
export interface FlowEndpointSource {
  nodeName: string;
  clusterName: string;
  /** The node's endpoints now. */
  localEndpoints(): readonly Pick<ReturnType<EndpointEnforcer['endpoints']>[number], 'id' | 'request'>[];
  /** The pod at `ip` from the cluster's CiliumEndpoints. */
  podAt(ip: string): PodAtAddress | undefined;
  /** The labels of an identity, as strings. */
  labelsOf(identity: number): string[];
  /** The workloads owning one of this node's pods, where known. */
  workloadsOf?(namespace: string, name: string): FlowWorkload[] | undefined;
  /** The Service whose backend `ip`:`port` is (IP protocol number). */
  serviceAt?(ip: string, port: number, protocol: number): FlowService | undefined;
  /** The DNS names DNS answers gave `ip` (without the final dot). */
  namesAt?(ip: string): readonly string[];
}

/**
 * What is known of flow ends, looked up once per (address, identity) for the life of the returned
 * function: local endpoints first (they are known before their CiliumEndpoint is written), then
 * the cluster's pods.
 */
export function flowEndpoints(src: FlowEndpointSource): (ip: string, identity: number) => FlowEndpoint {
  const local = new Map(src.localEndpoints().map((e) => [e.request.ip, e] as const));
  const known = new Map<number, Map<string, FlowEndpoint>>();
  return (ip, identity) => {
    let byIp = known.get(identity);
    if (!byIp) known.set(identity, (byIp = new Map()));
    let found = byIp.get(ip);
    if (!found) {
      const ep = local.get(ip);
      const pod: PodAtAddress | undefined = ep?.request.podName ? { namespace: ep.request.podNamespace, name: ep.request.podName } : src.podAt(ip);
      const workloads = pod && (src.workloadsOf?.(pod.namespace, pod.name) ?? (pod.workload && [pod.workload]));
      found = {
        identity, cluster_name: src.clusterName, labels: src.labelsOf(identity), ...(ep ? { ID: ep.id } : {}),
        ...(pod ? { namespace: pod.namespace, pod_name: pod.name } : {}),
        ...(workloads?.length ? { workloads } : {}),
      };
      byIp.set(ip, found);
    }
    return found;
  };
}

/**
 * The sink that puts decided flows into `ring`: what is known of each end is looked up when the
 * batch arrives, once per batch and end (see {@link flowEndpoints}); the flow itself is built when
 * read, from the batch's records.
 */
export function hubbleFlowSink(ring: FlowRing, src: FlowEndpointSource): FlowSink {
  return (flows) => {
    const batch = new ObservedBatch(flows, src);
    const timeMs = flows.time.getTime();
    for (let i = 0; i < flows.events.count; i++) ring.pushFrom(batch, i, timeMs);
  };
}

/** `f` answering each argument once. */
function memo<T>(f: (key: string) => T): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    if (known.has(key)) return known.get(key)!;
    const value = f(key);
    known.set(key, value);
    return value;
  };
}

/**
 * The flows of one batch of records, with what was known of their ends when it was read: the ends
 * of every record are looked up at once (kept by the batch's {@link flowEndpoints}), and the few
 * records with a Service or DNS names at an end keep those; nothing else is held per record.
 */
class ObservedBatch implements FlowSource {
  private readonly endpointOf: (ip: string, identity: number) => FlowEndpoint;
  private readonly services = new Map<number, [FlowService | undefined, FlowService | undefined]>();
  private readonly names = new Map<number, readonly string[]>();
  /** The uuid prefix of the batch's flows; a flow's uuid ends with its index. */
  private readonly uuidPrefix = randomUUID().slice(0, 28);

  constructor(private readonly flows: DecidedFlows, private readonly src: FlowEndpointSource) {
    const b = flows.events;
    const endpointOf = (this.endpointOf = flowEndpoints(src));
    const namesAt = src.namesAt && memo(src.namesAt);
    // The two latest records whose ends were looked up: a connection's records come both ways.
    let recent = -1, before = -1;
    for (let i = 0; i < b.count; i++) {
      const srcIp = b.address(i, 0), dstIp = b.address(i, 1);
      if (!(recent >= 0 && b.sameEnds(i, recent)) && !(before >= 0 && b.sameEnds(i, before))) {
        endpointOf(srcIp, b.identity(i, 0));
        endpointOf(dstIp, b.identity(i, 1));
        before = recent;
        recent = i;
      }
      if (src.serviceAt) {
        const proto = b.protocol(i);
        const from = src.serviceAt(srcIp, b.port(i, 0), proto), to = src.serviceAt(dstIp, b.port(i, 1), proto);
        if (from || to) this.services.set(i, [from, to]);
      }
      const names = namesAt?.(b.ingress(i) ? srcIp : dstIp);
      if (names?.length) this.names.set(i, names);
    }
  }

  flowAt(i: number): Flow {
    const e = this.flows.events.event(i);
    const services = this.services.get(i);
    const flow = toHubbleFlow(e, this.flows.origins[i]!, {
      nodeName: this.src.nodeName, clusterName: this.src.clusterName,
      endpoint: this.endpointOf,
      service: (ip) => (ip === e.srcIp ? services?.[0] : services?.[1]),
      names: () => this.names.get(i),
    }, this.flows.time);
    flow.uuid = this.uuidPrefix + i.toString(16).padStart(8, '0');
    return flow;
  }
}

/** DNS names as flows carry them (upstream drops the final dot); the same empty list when none. */
function withoutFinalDots(names: readonly string[]): readonly string[] {
  return names.length === 0 ? names : names.map((n) => (n.endsWith('.') ? n.slice(0, -1) : n));
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
  const ends: FlowEndpointSource = {
    nodeName: o.nodeName, clusterName: o.clusterName, labelsOf,
    localEndpoints: () => o.enforcer.endpoints(),
    podAt: (ip) => pods.get(ip),
    workloadsOf: (namespace, name) => {
      const pod = o.pods.get(`${namespace}/${name}`);
      const w = pod ? workloadOf(pod) : undefined;
      return w ? [w] : undefined;
    },
    serviceAt: serviceBackendIndex(o.slices),
    ...(o.fqdnNames ? { namesAt: (ip: string) => withoutFinalDots(o.fqdnNames!(ip)) } : {}),
  };
  const sink = hubbleFlowSink(ring, ends);
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
  return { sink, runnable, ring, ends };
}
