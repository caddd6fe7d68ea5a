// Loads the endpoint object (and the node device's object, netdev.bpf.o): open, set load-time
// constants, reuse pinned maps, load, pin, and hand back typed maps and program fds. Shared maps live
// in <pinRoot>/, per-endpoint maps in <pinRoot>/endpoints/<id>/ with upstream names (cilium_policy_v2_<id5>).
// Two ways to serve endpoints: a program pair loaded per endpoint (its identity a load-time constant),
// or one shared pair per node (loadEndpoint with shared: true) plus each endpoint's own maps made by
// loadEndpointMaps, registered with registerEndpointMaps and bound to an interface with
// bindEndpointInterface: no verifier run per endpoint.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { datapathFile } from './assets.ts';
import { native, type NativeMapDesc } from './native.ts';
import { endpointConfigCodec, endpointInfoCodec, flowEventCodec, RODATA_OFFSETS, type EndpointConfig, type EndpointInfo } from './codecs/generated.ts';
import type { Codec } from './codecs/codec.ts';
import { BpfMap } from './maps/bpf-map.ts';
import { IPCACHE_CODECS, type IpcacheMap } from './maps/ipcache.ts';
import { POLICY_CODECS, type PolicyConfigMap, type PolicyMap, type PolicyStatsMap } from './maps/policy.ts';
import { METRICS_CODECS, type EventStatsMap, type MetricsMap } from './maps/metrics.ts';
import { perCpuCodec, u8Codec, u32Codec, u64Codec } from './maps/percpu.ts';
import { ctEntryCodec, ctKeyCodec, dropAggrCodec, type CtEntry, type CtKey, type DropAggr } from './codecs/generated.ts';
import { BpfObject } from './object.ts';
import { LB_CODECS, type LbMaps } from './maps/lb.ts';
import { ensureBpffs } from './bpffs.ts';
import { ipv4ToNumber } from './net.ts';
import { SERVICE_LOOPBACK_IPV4 } from './constants.ts';

/** Default location of the compiled endpoint object. */
export const ENDPOINT_OBJECT = datapathFile('bpf/build/endpoint.bpf.o');
/** Location of the compiled socket-LB object. */
export const SOCK_OBJECT = datapathFile('bpf/build/sock.bpf.o');
/** Location of the compiled object holding only an endpoint's own maps (for the shared programs). */
export const ENDPOINT_MAPS_OBJECT = datapathFile('bpf/build/endpoint-maps.bpf.o');
/** Location of the compiled node-device object. */
export const NETDEV_OBJECT = datapathFile('bpf/build/netdev.bpf.o');

/** Maps shared by every endpoint (pinned once under the pin root). */
export const SHARED_MAPS = ['cilium_ipcache', 'cilium_ct4_global', 'cilium_metrics', 'cilium_events', 'cilium_drop_aggr', 'cilium_events_stats',
  'cilium_lb4_services_v2', 'cilium_lb4_backends_v3', 'cilium_lb4_reverse_nat', 'cilium_lb4_ct', 'cilium_lb4_affinity',
  'cilium_lb_affinity_match', 'cilium_lb4_maglev', 'cilium_lb4_nodeport_nat', 'cilium_lb4_reverse_sk',
  'ciliate_endpoint_info', 'ciliate_policy_maps', 'ciliate_policy_stats_maps', 'ciliate_policy_config_maps'] as const;
/** Maps owned by one endpoint. */
export const ENDPOINT_MAPS = ['cilium_policy_v2', 'policy_stats', 'policy_config'] as const;

/** What to load for one endpoint. */
export interface EndpointSpec {
  endpointId: number;
  identity: number;
  /** Events for one flow are folded together for this long (default 1 s). */
  aggregationIntervalNs?: bigint;
  /** Wake the event reader only once this many bytes are queued (default 1 MiB). */
  wakeupBytes?: number;
  ctLifetimeTcpNs?: bigint;
  ctLifetimeOtherNs?: bigint;
  /** This node's address on the node network (the SNAT address of NodePort flows). */
  nodeIp?: string;
  /** Entries of each Maglev table (a prime; default upstream's 16381). */
  maglevTableSize?: number;
  /** Load the node's shared program pair (endpointId and identity are then unused; see bindEndpointInterface). */
  shared?: boolean;
  /** The source a pod sees on a connection it made to itself through a service (default {@link SERVICE_LOOPBACK_IPV4}). */
  serviceLoopbackIp?: string;
}

/** Where to pin; without pinRoot nothing is pinned or reused. */
export interface LoadOptions {
  pinRoot?: string;
  objectPath?: string;
  /** Override map sizes (e.g. smaller conntrack in tests). */
  maxEntries?: Partial<Record<string, number>>;
  /** Take max_entries of already pinned maps from the pins (an object joining maps another created). */
  adoptPinnedSizes?: boolean;
}

/** Typed handles on every map of a loaded endpoint. */
export interface EndpointMaps {
  ipcache: IpcacheMap;
  conntrack: BpfMap<CtKey, CtEntry>;
  metrics: MetricsMap;
  dropAggr: BpfMap<CtKey, DropAggr>;
  eventStats: EventStatsMap;
  policy: PolicyMap;
  policyStats: PolicyStatsMap;
  policyConfig: PolicyConfigMap;
  /** The node's service load-balancing maps. */
  lb: LbMaps;
  /** The shared programs' endpoints, by host-side ifindex. */
  endpointInfo: BpfMap<number, EndpointInfo>;
  /** The shared programs' outer maps: endpoint id -> that endpoint's own map (write an fd, read an id). */
  outer: Record<keyof EndpointOwnMapsOf, BpfMap<number, number>>;
  /** Raw fd of the ring buffer (owned by this endpoint; see events.ts). */
  eventsFd: number;
}

/** The maps one endpoint owns, whichever way its programs are loaded. */
export interface EndpointOwnMapsOf {
  policy: PolicyMap;
  policyStats: PolicyStatsMap;
  policyConfig: PolicyConfigMap;
}

/** Program fds of the endpoint pair. */
export interface EndpointProgs {
  /** For tc ingress of the host-side veth (traffic leaving the pod). */
  fromContainer: number;
  /** For tc egress of the host-side veth (traffic to the pod). */
  toContainer: number;
}

function pad5(n: number): string {
  return String(n).padStart(5, '0');
}

/** The folder of an endpoint's own pinned maps. */
export function endpointPinDir(pinRoot: string, endpointId: number): string {
  return join(pinRoot, 'endpoints', pad5(endpointId));
}

/** The pinned path of a map for an endpoint (upstream naming for per-endpoint maps). */
export function mapPinPath(pinRoot: string, name: string, endpointId: number): string {
  if ((SHARED_MAPS as readonly string[]).includes(name)) return join(pinRoot, name);
  return join(endpointPinDir(pinRoot, endpointId), `${name}_${pad5(endpointId)}`);
}

function compatible(desc: NativeMapDesc, fd: number): boolean {
  const info = native().mapInfo(fd);
  return info.type === desc.type && info.keySize === desc.keySize && info.valueSize === desc.valueSize &&
    info.maxEntries === desc.maxEntries && info.flags === desc.flags;
}

/** A loaded endpoint: typed maps and program fds. Close to release its fds (pins stay). */
export class LoadedEndpoint implements Disposable {
  private closed = false;

  /** Use loadEndpoint(). */
  constructor(readonly spec: EndpointSpec, readonly maps: EndpointMaps, readonly progs: EndpointProgs) {}

  /** Releases every fd this object holds; pinned maps and attached links are unaffected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const m = this.maps;
    for (const map of [m.ipcache, m.conntrack, m.metrics, m.dropAggr, m.eventStats, m.policy, m.policyStats, m.policyConfig, m.endpointInfo,
      ...Object.values(m.outer), ...Object.values(m.lb)]) map.close();
    native().fdClose(m.eventsFd);
    native().fdClose(this.progs.fromContainer);
    native().fdClose(this.progs.toContainer);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

function configOf(spec: EndpointSpec): EndpointConfig {
  return {
    endpointId: spec.endpointId,
    identity: spec.identity,
    aggregationIntervalNs: spec.aggregationIntervalNs ?? 1_000_000_000n,
    ctLifetimeTcpNs: spec.ctLifetimeTcpNs ?? 21600n * 1_000_000_000n,
    ctLifetimeOtherNs: spec.ctLifetimeOtherNs ?? 60n * 1_000_000_000n,
    wakeupBytes: spec.wakeupBytes ?? 1 << 20,
    nodeIp: spec.nodeIp ? ipv4ToNumber(spec.nodeIp) : 0,
    maglevTableSize: spec.maglevTableSize ?? 0,
    shared: spec.shared ? 1 : 0,
    serviceLoopbackIp: ipv4ToNumber(spec.serviceLoopbackIp ?? SERVICE_LOOPBACK_IPV4),
  };
}

/**
 * Opens `objectPath`, patches ciliate_config, reuses compatible pinned maps (an incompatible pin is an
 * error), loads, pins new maps, and hands the loaded object to `extract` (which dups what it keeps).
 * Guarantees: the object and any reused pinned fds are closed on every path; a verifier rejection
 * throws VerifierError with the log.
 */
function withLoadedObject<T>(objectPath: string, spec: EndpointSpec, opts: LoadOptions, extract: (obj: BpfObject) => T): T {
  const n = native();
  const obj = BpfObject.open(objectPath);
  const reused: number[] = [];
  try {
    if (obj.maps().some((m) => m.name.endsWith('.rodata'))) obj.setRodata(RODATA_OFFSETS.ciliate_config, endpointConfigCodec.encode(configOf(spec)));
    for (const [name, max] of Object.entries(opts.maxEntries ?? {})) if (max !== undefined && obj.hasMap(name)) obj.setMaxEntries(name, max);
    const descs = obj.maps().filter((m) => !m.name.includes('.'));
    if (opts.pinRoot) {
      ensureBpffs();
      for (const d of descs) {
        const path = mapPinPath(opts.pinRoot, d.name, spec.endpointId);
        if (!existsSync(path)) continue;
        const fd = n.objGet(path);
        reused.push(fd);
        if (opts.adoptPinnedSizes) {
          d.maxEntries = n.mapInfo(fd).maxEntries;
          obj.setMaxEntries(d.name, d.maxEntries);
        }
        if (!compatible(d, fd)) throw new Error(`pinned map ${path} is incompatible with the object; remove it to upgrade`);
        obj.reuseMap(d.name, fd);
      }
    }
    obj.load();
    if (opts.pinRoot) {
      for (const d of descs) {
        const path = mapPinPath(opts.pinRoot, d.name, spec.endpointId);
        if (existsSync(path)) continue;
        mkdirSync(join(path, '..'), { recursive: true });
        n.objPin(obj.mapFd(d.name), path);
      }
    }
    return extract(obj);
  } finally {
    for (const fd of reused) n.fdClose(fd);
    obj.close();
  }
}

/** Typed handles on the node's LB maps of a loaded object. */
function lbMapsOf(obj: BpfObject): LbMaps {
  const wrap = <K, V>(name: string, k: Codec<K>, v: Codec<V>): BpfMap<K, V> => BpfMap.fromFd(obj.mapFd(name), k, v);
  return {
    services: wrap('cilium_lb4_services_v2', LB_CODECS.serviceKey, LB_CODECS.service),
    backends: wrap('cilium_lb4_backends_v3', LB_CODECS.backendId, LB_CODECS.backend),
    revNat: wrap('cilium_lb4_reverse_nat', LB_CODECS.revNatIndex, LB_CODECS.revNat),
    ct: wrap('cilium_lb4_ct', LB_CODECS.ctKey, LB_CODECS.ct),
    affinity: wrap('cilium_lb4_affinity', LB_CODECS.affinityKey, LB_CODECS.affinity),
    affinityMatch: wrap('cilium_lb_affinity_match', LB_CODECS.affinityMatch, u8Codec),
    maglev: wrap('cilium_lb4_maglev', LB_CODECS.maglevKey, u32Codec),
    nodeportNat: wrap('cilium_lb4_nodeport_nat', LB_CODECS.ctKey, LB_CODECS.nat),
  };
}

/** Typed handles on the three maps an endpoint owns, of a loaded object. */
function ownMapsOf(obj: BpfObject): EndpointOwnMapsOf {
  return {
    policy: BpfMap.fromFd(obj.mapFd('cilium_policy_v2'), POLICY_CODECS.key, POLICY_CODECS.value),
    policyStats: BpfMap.fromFd(obj.mapFd('policy_stats'), u32Codec, perCpuCodec(POLICY_CODECS.statsValue)),
    policyConfig: BpfMap.fromFd(obj.mapFd('policy_config'), u32Codec, POLICY_CODECS.configValue),
  };
}

/**
 * Creates endpoint `endpointId`'s own maps for the shared programs (or reopens the ones pinned under
 * `opts.pinRoot`, e.g. after an agent restart, keeping their rows). Nothing is verified or attached;
 * registerEndpointMaps and bindEndpointInterface make the shared programs use them.
 */
export function loadEndpointMaps(endpointId: number, opts: LoadOptions = {}): EndpointOwnMapsOf {
  return withLoadedObject(ENDPOINT_MAPS_OBJECT, { endpointId, identity: 0 }, opts, ownMapsOf);
}

/** Opens endpoint `endpointId`'s own maps from their pins under `pinRoot` (made by loadEndpointMaps). */
export function openEndpointMaps(pinRoot: string, endpointId: number): EndpointOwnMapsOf {
  const open = <K, V>(name: string, k: Codec<K>, v: Codec<V>) => BpfMap.openPinned(mapPinPath(pinRoot, name, endpointId), k, v);
  const policy = open('cilium_policy_v2', POLICY_CODECS.key, POLICY_CODECS.value);
  try {
    const policyStats = open('policy_stats', u32Codec, perCpuCodec(POLICY_CODECS.statsValue));
    try {
      return { policy, policyStats, policyConfig: open('policy_config', u32Codec, POLICY_CODECS.configValue) };
    } catch (err) {
      policyStats.close();
      throw err;
    }
  } catch (err) {
    policy.close();
    throw err;
  }
}

/** Opens the shared programs' outer maps from their pins under `pinRoot`. */
export function openOuterMaps(pinRoot: string): EndpointMaps['outer'] {
  const open = (name: string) => BpfMap.openPinned(join(pinRoot, name), u32Codec, u32Codec);
  return { policy: open('ciliate_policy_maps'), policyStats: open('ciliate_policy_stats_maps'), policyConfig: open('ciliate_policy_config_maps') };
}

/** Closes an endpoint's own map handles (pins stay). */
export function closeEndpointMaps(own: EndpointOwnMapsOf): void {
  for (const map of Object.values(own)) map.close();
}

/** What the shared programs need to serve one endpoint. */
export interface EndpointRegistration {
  endpointId: number;
  identity: number;
  /** Host-side interface (in the namespace the programs run in). */
  ifindex: number;
}

/**
 * Puts endpoint `endpointId`'s own maps into the shared programs' outer maps; rows that already
 * hold these maps are left alone. Each changed row costs an RCU grace period in the kernel (5-15 ms
 * here), which is why the enforcer does this ahead of time for spare endpoint ids.
 */
export function registerEndpointMaps(shared: Pick<EndpointMaps, 'outer'>, endpointId: number, own: EndpointOwnMapsOf): void {
  for (const k of Object.keys(own) as (keyof EndpointOwnMapsOf)[]) {
    if (shared.outer[k].lookup(endpointId) !== native().mapInfo(own[k].fd).id) shared.outer[k].update(endpointId, own[k].fd);
  }
}

/**
 * Makes the node's shared programs serve an endpoint on interface `r.ifindex`, whose maps must be
 * registered (registerEndpointMaps) first, so a packet that finds the endpoint also finds its
 * policy. Repeating it updates the identity in place (a relabel). Costs one hash-map write.
 */
export function bindEndpointInterface(shared: EndpointMaps, r: EndpointRegistration): void {
  shared.endpointInfo.update(r.ifindex, { endpointId: r.endpointId, identity: r.identity });
}

/** Loads the endpoint object (see withLoadedObject) and returns its typed maps and program fds. */
export function loadEndpoint(spec: EndpointSpec, opts: LoadOptions = {}): LoadedEndpoint {
  const n = native();
  return withLoadedObject(opts.objectPath ?? ENDPOINT_OBJECT, spec, opts, (obj) => {
    const wrap = <K, V>(name: string, k: Codec<K>, v: Codec<V>): BpfMap<K, V> => BpfMap.fromFd(obj.mapFd(name), k, v);
    const maps: EndpointMaps = {
      ipcache: wrap('cilium_ipcache', IPCACHE_CODECS.key, IPCACHE_CODECS.value),
      conntrack: wrap('cilium_ct4_global', ctKeyCodec, ctEntryCodec),
      metrics: wrap('cilium_metrics', METRICS_CODECS.key, perCpuCodec(METRICS_CODECS.value)),
      dropAggr: wrap('cilium_drop_aggr', ctKeyCodec, dropAggrCodec),
      eventStats: wrap('cilium_events_stats', u32Codec, perCpuCodec(u64Codec)),
      ...ownMapsOf(obj),
      lb: lbMapsOf(obj),
      endpointInfo: wrap('ciliate_endpoint_info', u32Codec, endpointInfoCodec),
      outer: {
        policy: wrap('ciliate_policy_maps', u32Codec, u32Codec),
        policyStats: wrap('ciliate_policy_stats_maps', u32Codec, u32Codec),
        policyConfig: wrap('ciliate_policy_config_maps', u32Codec, u32Codec),
      },
      eventsFd: n.fdDup(obj.mapFd('cilium_events')),
    };
    const progs = { fromContainer: n.fdDup(obj.progFd('cil_from_container')), toContainer: n.fdDup(obj.progFd('cil_to_container')) };
    return new LoadedEndpoint(spec, maps, progs);
  });
}

/**
 * Loads the node device's programs (NodePort, externalIP and LoadBalancer frontends from the node
 * network) over the node's shared maps, which must already be pinned under `opts.pinRoot`.
 * Returns program fds shaped like an endpoint's: fromContainer for tc ingress, toContainer for egress.
 */
export function loadNetdev(spec: Pick<EndpointSpec, 'nodeIp' | 'maglevTableSize'>, opts: LoadOptions): EndpointProgs {
  const n = native();
  return withLoadedObject(opts.objectPath ?? NETDEV_OBJECT, { endpointId: 0, identity: 1, ...spec }, { adoptPinnedSizes: true, ...opts }, (obj) => ({
    fromContainer: n.fdDup(obj.progFd('cil_from_netdev')), toContainer: n.fdDup(obj.progFd('cil_to_netdev')),
  }));
}

/** Program fds of the socket-level load balancer, by cgroup hook. */
export interface SockProgs {
  connect4: number;
  sendmsg4: number;
  recvmsg4: number;
  getpeername4: number;
}

/**
 * Loads the socket-level LB programs over the node's shared maps (pinned under `opts.pinRoot`).
 * The caller owns the returned fds.
 */
export function loadSock(opts: LoadOptions): SockProgs {
  const n = native();
  return withLoadedObject(opts.objectPath ?? SOCK_OBJECT, { endpointId: 0, identity: 1 }, { adoptPinnedSizes: true, ...opts }, (obj) => ({
    connect4: n.fdDup(obj.progFd('cil_sock4_connect')),
    sendmsg4: n.fdDup(obj.progFd('cil_sock4_sendmsg')),
    recvmsg4: n.fdDup(obj.progFd('cil_sock4_recvmsg')),
    getpeername4: n.fdDup(obj.progFd('cil_sock4_getpeername')),
  }));
}

/** Size of one flow event record (from BTF). */
export const FLOW_EVENT_SIZE = flowEventCodec.size;
