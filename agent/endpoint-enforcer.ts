/**
 * Puts each local endpoint's identity and policy into the kernel and keeps them there.
 *
 * The node runs one shared program pair for all its endpoints, loaded (verified) once when the
 * enforcer starts; an endpoint costs map writes and an attach, never a verifier run.
 *
 * Flow of `add()` (called from the CNI ADD hook, which answers only after it resolves):
 *   endpoint id (persistent) -> pod labels -> security identity -> selector cache and ipcache know it
 *   -> the endpoint's own maps created, pinned under pinRoot (reused after a restart) -> policy map
 *   written from the engine's map state -> maps and identity registered with the shared programs
 *   under the host-side veth's ifindex -> programs attached to the veth (atomic replace of what a
 *   previous agent left) -> the endpoint is ready.
 * Guarantees: the kernel keeps enforcing the last written state when the agent stops (`close()`
 * releases fds only, links and maps stay pinned); after a restart `add()` of the same endpoint
 * reuses its maps and links, so established traffic is never dropped for want of a program.
 */
import { join } from 'node:path';
import { attachPinned, type AttachMode, type InterfaceAttachment } from '../datapath/attach.ts';
import {
  closeEndpointMaps, endpointPinDir, loadEndpoint, loadEndpointMaps, openEndpointMaps, registerEndpointMaps,
  type EndpointOwnMapsOf, type EndpointRegistration, type LoadedEndpoint, type LoadOptions,
} from '../datapath/loader.ts';
import { setEnforcement } from '../datapath/maps/policy.ts';
import { removePinDir } from '../datapath/bpffs.ts';
import { RouteSocket } from '../datapath/netlink/route-socket.ts';
import type { LabelSet } from '../identity/labels.ts';
import type { NamedPort } from '../policy/ports.ts';
import type { EndpointDiffs, PolicyEngine } from '../policy/engine.ts';
import type { MapStateDiff } from '../policy/mapstate-types.ts';
import type { Logger } from '../runtime/logger.ts';
import { elapsedMs } from '../runtime/elapsed.ts';
import { EndpointIdAllocator } from './endpoint-ids.ts';
import { EndpointSlotPool, isSpareKey, SPARE_KEY_PREFIX, type EndpointSlot } from './endpoint-slots.ts';
import { SlotPreparer } from './endpoint-slot-preparer.ts';
import { IpcacheSync } from './ipcache-sync.ts';
import { EntryIds } from './entry-ids.ts';
import { EndpointPolicyMap, type DriftReport } from './policy-map-sync.ts';
import type { KernelTables } from './kernel-tables.ts';
import { bpfMapOps, mapCapacity, mapTable } from '../datapath/maps/map-ops.ts';
import { endpointInfoCodec, type EndpointInfo } from '../datapath/codecs/generated.ts';
import { u32Codec } from '../datapath/maps/percpu.ts';
import { TableReconciler } from '../runtime/reconciler/reconciler.ts';
import type { DesiredTable } from '../runtime/reconciler/table.ts';
import type { KubernetesObject } from '@kubernetes/client-node';

/** What the CNI side knows about an endpoint when it asks for enforcement. */
export interface EndpointRequest {
  /** `containerId/ifName`. */
  key: string;
  ip: string;
  /** Host-side veth in this network namespace. */
  hostIf: string;
  podNamespace: string;
  podName: string;
  containerId: string;
}

/** What the agent knows about the pod behind an endpoint. */
export interface PodFacts {
  labels: LabelSet;
  namedPorts?: NamedPort[];
}

/** Dependencies and settings of the enforcer. */
export interface EnforcerOptions {
  /** bpffs folder of this node's pins. */
  pinRoot: string;
  /** Folder for the endpoint-id file. */
  stateDir: string;
  engine: PolicyEngine;
  allocateIdentity(labels: LabelSet): Promise<number>;
  podFacts(namespace: string, name: string): Promise<PodFacts>;
  log: Logger;
  attachMode?: AttachMode | 'auto';
  maxEntries?: LoadOptions['maxEntries'];
  /** Policy entries allowed per endpoint (`bpf-policy-map-max`; default: the map's capacity). */
  policyMapMax?: number;
  /** Runs interface work in the node's network namespace (tests; the agent itself runs inside it). */
  inNodeNetns?: <T>(fn: () => T) => T;
  /** Spare endpoint slots kept ready (default 16; 0 makes each endpoint's maps during its ADD). */
  spareEndpoints?: number;
  /** Where the reconciled maps are watched (health, pressure, metrics, drift counts). */
  kernelTables?: KernelTables;
  /** The node as the owner of its shared maps (Events about them). */
  nodeOwner?: KubernetesObject;
}

/** A local endpoint under enforcement. */
export interface EnforcedEndpoint {
  id: number;
  request: EndpointRequest;
  identity: number;
  labels: LabelSet;
  namedPorts: NamedPort[];
  ifindex: number;
  /** The endpoint's own maps (policy, its counters, enforcement switches). */
  maps: EndpointOwnMapsOf;
  attachment: InterfaceAttachment;
  policy: EndpointPolicyMap;
  /** Set when applying a diff threw: the next refresh rewrites the whole map state. */
  resync?: boolean;
  /** Stops watching the endpoint's policy map. */
  untrack?: () => void;
}

/** Endpoint 0 is the enforcer's own load: the shared programs, and the node's shared maps. */
const TEMPLATE_ID = 0;

/**
 * Endpoints are attached with clsact filters unless told otherwise: a tcx attach or detach waits for
 * an RCU grace period (20-60 ms measured here) where a filter takes 0.3 ms, and pod start waits on it.
 */
const DEFAULT_ATTACH_MODE: AttachMode = 'clsact';

/** Spare endpoint slots kept ready by default: a burst of this many pods meets no map registration. */
const DEFAULT_SPARE_ENDPOINTS = 16;

/** The name of endpoint `id`'s policy map, as upstream names its pin. */
export function policyMapName(id: number): string {
  return `cilium_policy_v2_${String(id).padStart(5, '0')}`;
}

/** The interface index of a link in the calling thread's network namespace; throws ENODEV when it is missing. */
export function ifindexOf(name: string): number {
  return RouteSocket.using(undefined, (s) => s.requireLink(name).index);
}

/** The node's endpoints in the kernel. */
export class EndpointEnforcer {
  readonly ipcache: IpcacheSync;
  /**
   * The shared programs' endpoints by host-side interface, reconciled into `ciliate_endpoint_info`.
   * Never pruned: after a restart, rows of endpoints not (yet) restored keep serving their pods.
   */
  readonly endpointInfo: DesiredTable<number, EndpointInfo> = mapTable('ciliate_endpoint_info', u32Codec, endpointInfoCodec);
  readonly #infoReconciler: TableReconciler;
  #loaded: LoadedEndpoint | undefined;
  readonly #ids: EndpointIdAllocator;
  readonly #slots: EndpointSlotPool;
  #preparer: SlotPreparer | undefined;
  #spareSeq = 0;
  #closed = false;
  readonly #byId = new Map<number, EnforcedEndpoint>();
  readonly #byKey = new Map<string, EnforcedEndpoint>();
  readonly #errorListeners: Array<(id: number) => void> = [];
  readonly #policyListeners: Array<(id: number) => void> = [];

  /** Touches nothing in the kernel: ipcache claims wait in their table until {@link open}. */
  constructor(readonly opts: EnforcerOptions) {
    this.ipcache = new IpcacheSync(undefined, opts.log, opts.kernelTables?.observer);
    this.#infoReconciler = new TableReconciler({
      name: 'ciliate_endpoint_info', log: opts.log, ...(opts.kernelTables ? { observer: opts.kernelTables.observer } : {}),
      tables: [{ table: this.endpointInfo, ops: bpfMapOps(() => this.#template.maps.endpointInfo), prune: () => false }],
    });
    this.#ids = new EndpointIdAllocator(join(opts.stateDir, 'endpoint-ids.json'));
    this.#slots = new EndpointSlotPool({
      size: opts.spareEndpoints ?? DEFAULT_SPARE_ENDPOINTS, make: () => this.#makeSlot(), prepare: () => this.#prepareSlot(),
      release: (slot) => closeEndpointMaps(slot.maps), log: opts.log,
    });
  }

  /** The shared programs and maps, loaded by {@link open}. */
  get #template(): LoadedEndpoint {
    if (!this.#loaded) throw new Error('the endpoint enforcer is not open yet');
    return this.#loaded;
  }

  /**
   * Loads (or reopens from the pins) the node's shared programs and maps, starts writing the ipcache,
   * takes over the spare endpoint slots an earlier agent prepared and makes the missing ones.
   */
  open(): this {
    const { opts } = this;
    this.#loaded = loadEndpoint({ endpointId: TEMPLATE_ID, identity: 1, shared: true }, { pinRoot: opts.pinRoot, maxEntries: opts.maxEntries });
    this.ipcache.open(this.#template.maps.ipcache);
    this.#infoReconciler.enable();
    const owner = opts.nodeOwner ?? { apiVersion: 'v1', kind: 'Node', metadata: { name: 'unknown' } };
    opts.kernelTables?.register({ mapName: 'cilium_ipcache', group: 'cilium_ipcache', table: this.ipcache.table, capacity: mapCapacity(this.#template.maps.ipcache), owner });
    opts.kernelTables?.register({
      mapName: 'ciliate_endpoint_info', group: 'ciliate_endpoint_info', table: this.endpointInfo, capacity: mapCapacity(this.#template.maps.endpointInfo), owner,
    });
    this.#preparer = (opts.spareEndpoints ?? DEFAULT_SPARE_ENDPOINTS) > 0 ? new SlotPreparer() : undefined;
    // Spare slots an earlier agent prepared are taken over (their maps and outer rows are pinned).
    for (const key of this.#ids.keys().filter(isSpareKey)) {
      try {
        this.#slots.adopt(this.#openSlot(key, this.#ids.idFor(key)));
      } catch (err) {
        opts.log.warn('dropping a spare endpoint slot that cannot be reopened', { key, err: (err as Error).message });
        this.#forgetId(key, this.#ids.idFor(key));
      }
    }
    this.#slots.refill();
    return this;
  }

  /** A fresh spare key. */
  #spareKey(): string {
    let key: string;
    do key = `${SPARE_KEY_PREFIX}${this.#spareSeq++}`; while (this.#ids.has(key));
    return key;
  }

  /** A new spare slot made on the worker thread; only opening its pins happens here. */
  async #prepareSlot(): Promise<EndpointSlot> {
    const key = this.#spareKey();
    const id = this.#ids.idFor(key);
    try {
      await this.#preparer!.prepare({ id, pinRoot: this.opts.pinRoot, maxEntries: this.opts.maxEntries });
      return { spareKey: key, id, maps: openEndpointMaps(this.opts.pinRoot, id) };
    } catch (err) {
      // After close() the fds are gone: the half-made slot stays for the next agent to take over.
      if (!this.#closed) this.#forgetId(key, id);
      throw err;
    }
  }

  /** A new spare slot made now: a fresh id, its maps created, pinned and registered with the shared programs. */
  #makeSlot(): EndpointSlot {
    const key = this.#spareKey();
    const id = this.#ids.idFor(key);
    try {
      return this.#openSlot(key, id);
    } catch (err) {
      this.#forgetId(key, id);
      throw err;
    }
  }

  /** Opens (or creates) endpoint `id`'s maps and makes sure the shared programs' outer maps hold them. */
  #openSlot(spareKey: string, id: number): EndpointSlot {
    const maps = loadEndpointMaps(id, { pinRoot: this.opts.pinRoot, maxEntries: this.opts.maxEntries });
    try {
      registerEndpointMaps(this.#template.maps, id, maps);
    } catch (err) {
      closeEndpointMaps(maps);
      throw err;
    }
    return { spareKey, id, maps };
  }

  /** Releases endpoint id `id` of `key` and removes its pins and outer rows. */
  #forgetId(key: string, id: number): void {
    for (const map of Object.values(this.#template.maps.outer)) map.delete(id);
    removePinDir(join(this.opts.pinRoot, 'links', String(id)));
    removePinDir(endpointPinDir(this.opts.pinRoot, id));
    this.#ids.release(key);
  }

  /** The shared maps (ipcache, conntrack, metrics, events ring) of the node. */
  get sharedMaps(): LoadedEndpoint['maps'] {
    return this.#template.maps;
  }

  /** The node's shared program pair, attached to every endpoint's veth. */
  get programs(): LoadedEndpoint['progs'] {
    return this.#template.progs;
  }

  /** Endpoint ids of the spare slots ready now (maps created and registered, no interface yet). */
  spareIds(): number[] {
    return this.#slots.ids();
  }

  /** Every endpoint under enforcement. */
  endpoints(): EnforcedEndpoint[] {
    return [...this.#byId.values()];
  }

  /** The endpoint with this id. */
  endpoint(id: number): EnforcedEndpoint | undefined {
    return this.#byId.get(id);
  }

  /** Enforces an endpoint; resolves once its identity and policy are in the kernel. Idempotent per key. */
  async add(req: EndpointRequest): Promise<EnforcedEndpoint> {
    const existing = this.#byKey.get(req.key);
    if (existing) return existing;
    const { engine, log } = this.opts;
    const t0 = performance.now();
    const facts = await this.opts.podFacts(req.podNamespace, req.podName);
    const tFacts = performance.now();
    const identity = await this.opts.allocateIdentity(facts.labels);
    const tIdentity = performance.now();
    this.#apply(engine.updateIdentities([[identity, facts.labels]]));
    this.ipcache.upsert('endpoint', req.ip, { identity });

    const tLoad0 = performance.now();
    // A known key (an agent restart) reopens its own pinned maps; a new one takes a spare slot.
    const restored = this.#ids.has(req.key);
    const { id, maps } = restored
      ? this.#openSlot(req.key, this.#ids.idFor(req.key))
      : ((slot) => ({ id: this.#ids.rekey(slot.spareKey, req.key), maps: slot.maps }))(this.#slots.take());
    const tLoad = performance.now();
    const policy = new EndpointPolicyMap(maps.policy, new EntryIds(this.opts.policyMapMax), { name: policyMapName(id), log, observer: this.opts.kernelTables?.observer });
    const untrack = this.opts.kernelTables?.register({
      mapName: policyMapName(id), group: 'cilium_policy_v2', table: policy.table, capacity: Math.min(mapCapacity(maps.policy), policy.ids.max - 1),
      owner: { apiVersion: 'v1', kind: 'Pod', metadata: { name: req.podName, namespace: req.podNamespace } },
      onErrorsChanged: () => {
        for (const fn of this.#errorListeners) fn(id);
      },
    });
    setEnforcement(maps.policyConfig, true, true);
    engine.upsertEndpoint({ id, identity, labels: facts.labels, namedPorts: facts.namedPorts });
    policy.replace(engine.mapState(id)?.rows() ?? []);
    // The table's round ran on this stack (nothing awaited since the slot was taken): every row was
    // attempted, or is held waiting for an entry id.
    const failed = policy.notWritten();
    // A new pod whose policy does not fit is refused (its ADD fails, kubelet retries); an endpoint
    // from before a restart keeps what its map enforces, its failed rows reported and retried.
    if (failed.length && !restored) {
      untrack?.();
      policy.close();
      closeEndpointMaps(maps);
      this.#forgetId(req.key, id);
      engine.removeEndpoint(id);
      throw new Error(`policy of ${req.podNamespace}/${req.podName} not written: ${failed.length} rows of ${policyMapName(id)} not in the kernel (${failed[0]!.message})`);
    }
    const tPolicy = performance.now();
    const linkDir = join(this.opts.pinRoot, 'links', String(id));
    const mode = this.opts.attachMode ?? DEFAULT_ATTACH_MODE;
    const inNs = this.opts.inNodeNetns ?? ((fn) => fn());
    // Registered before attach, so the first packet finds its endpoint. A previous agent's programs
    // (filters, or pinned tcx links) are swapped in place, never leaving the veth bare.
    let ifindex = 0;
    const { attachment, previous } = inNs(() => {
      try {
        ifindex = ifindexOf(req.hostIf);
        this.#bind({ endpointId: id, identity, ifindex }, `${req.podNamespace}/${req.podName}`);
        return attachPinned(linkDir, ifindex, this.#template.progs, mode);
      } catch (err) {
        if (ifindex) this.#unbind({ endpointId: id, ifindex });
        untrack?.();
        policy.close();
        closeEndpointMaps(maps);
        this.#forgetId(req.key, id);
        this.opts.engine.removeEndpoint(id);
        throw err;
      }
    });
    const ep: EnforcedEndpoint = {
      id, request: req, identity, labels: facts.labels, namedPorts: facts.namedPorts ?? [], ifindex, maps, attachment, policy, ...(untrack ? { untrack } : {}),
    };
    this.#byId.set(id, ep);
    this.#byKey.set(req.key, ep);
    this.#policyChanged(id);
    log.info('endpoint enforced', {
      endpointId: id, identity, ip: req.ip, pod: `${req.podNamespace}/${req.podName}`, restored: previous,
      ms: { podFacts: elapsedMs(t0, tFacts), identity: elapsedMs(tFacts, tIdentity), load: elapsedMs(tLoad0, tLoad), policy: elapsedMs(tLoad, tPolicy), attach: elapsedMs(tPolicy), total: elapsedMs(t0) },
    });
    return ep;
  }

  /**
   * Gives an endpoint new labels (its pod's or namespace's labels changed): a new identity is one
   * row rewritten for the shared programs; the policy is recomputed either way. Returns false when
   * the labels are unchanged.
   */
  async relabel(key: string, facts: PodFacts): Promise<boolean> {
    const ep = this.#byKey.get(key);
    const namedPorts = facts.namedPorts ?? [];
    if (!ep || (ep.labels.equals(facts.labels) && JSON.stringify(ep.namedPorts) === JSON.stringify(namedPorts))) return false;
    const { engine } = this.opts;
    const identity = await this.opts.allocateIdentity(facts.labels);
    this.#apply(engine.updateIdentities([[identity, facts.labels]]));
    if (identity !== ep.identity) {
      this.#bind({ endpointId: ep.id, identity, ifindex: ep.ifindex }, `${ep.request.podNamespace}/${ep.request.podName}`);
      this.ipcache.upsert('endpoint', ep.request.ip, { identity });
    }
    ep.identity = identity;
    ep.labels = facts.labels;
    ep.namedPorts = namedPorts;
    this.#applyTo(ep, engine.upsertEndpoint({ id: ep.id, identity, labels: facts.labels, namedPorts: facts.namedPorts }));
    this.opts.log.info('endpoint relabelled', { endpointId: ep.id, identity, pod: `${ep.request.podNamespace}/${ep.request.podName}` });
    return true;
  }

  /** Stops enforcing an endpoint and removes its programs, maps and pins. Missing = success. */
  remove(key: string): void {
    const ep = this.#byKey.get(key);
    if (ep) {
      this.#byKey.delete(key);
      this.#byId.delete(ep.id);
      this.opts.engine.removeEndpoint(ep.id);
      this.#policyChanged(ep.id);
      ep.untrack?.();
      ep.policy.close();
      try {
        (this.opts.inNodeNetns ?? ((fn) => fn()))(() => ep.attachment.detach());
      } catch (err) {
        this.opts.log.warn('detach failed', { endpointId: ep.id, err: (err as Error).message });
      }
      this.#unbind({ endpointId: ep.id, ifindex: ep.ifindex });
      closeEndpointMaps(ep.maps);
      if (!this.endpoints().some((o) => o.request.ip === ep.request.ip)) this.ipcache.remove('endpoint', ep.request.ip);
    }
    // Also when the endpoint never got enforced (its ADD failed half way): the id's pins go too.
    if (this.#ids.has(key)) this.#forgetId(key, this.#ids.idFor(key));
  }

  /** Applies the diffs a policy or identity change produced to the affected endpoints' maps. */
  applyDiffs(diffs: EndpointDiffs): void {
    this.#apply(diffs);
  }

  /**
   * Every endpoint gets its diff, whatever happens to the others: a row the kernel refuses is an
   * error row of that endpoint's table (retried), and a diff that cannot even be applied makes the
   * endpoint's table be rebuilt from the engine's map state, now or at the next refresh.
   */
  #apply(diffs: EndpointDiffs): void {
    for (const [id, diff] of diffs) {
      const ep = this.#byId.get(id);
      if (ep) this.#applyTo(ep, diff);
    }
  }

  #applyTo(ep: EnforcedEndpoint, diff: MapStateDiff): void {
    // The proxies are sent the change before the policy map is written (upstream even waits for
    // Envoy's acknowledgment), so a new redirect's first requests rarely beat its rules there. They
    // hold all of the endpoint's rows: a request the datapath still redirects under an older policy
    // meets its port's current allow or deny.
    this.#policyChanged(ep.id);
    try {
      if (ep.resync) this.#resync(ep);
      else ep.policy.apply(diff);
    } catch (err) {
      this.opts.log.error('policy diff not applied; rebuilding the endpoint\'s policy map from its map state', { endpointId: ep.id, err: (err as Error).message });
      ep.resync = true;
      this.#resync(ep);
    }
  }

  /** Rebuilds an endpoint's table from the engine's map state; false (and retried later) when that throws too. */
  #resync(ep: EnforcedEndpoint): DriftReport {
    try {
      const r = ep.policy.replace(this.opts.engine.mapState(ep.id)?.rows() ?? []);
      ep.resync = false;
      return r;
    } catch (err) {
      this.opts.log.error('policy map not rebuilt; retrying at the next refresh', { endpointId: ep.id, err: (err as Error).message });
      return { repaired: 0, pruned: 0 };
    }
  }

  /**
   * Makes the shared programs serve endpoint `r.endpointId` on interface `r.ifindex` (its maps
   * registered first), or gives it a new identity; throws when the kernel refuses the row.
   */
  #bind(r: EndpointRegistration, origin: string): void {
    this.endpointInfo.set(r.ifindex, { endpointId: r.endpointId, identity: r.identity }, origin);
    const status = this.endpointInfo.row(this.endpointInfo.idOf(r.ifindex))?.status;
    if (status?.kind === 'error') throw new Error(`ciliate_endpoint_info: ${status.message}`);
  }

  /** Undoes {@link #bind}: the interface row first (its packets are then dropped as DROP_NO_LXC), then the outer rows. */
  #unbind(r: Pick<EndpointRegistration, 'endpointId' | 'ifindex'>): void {
    this.endpointInfo.delete(r.ifindex);
    for (const map of Object.values(this.#template.maps.outer)) map.delete(r.endpointId);
  }

  /** Calls `fn` with an endpoint's id whenever its policy rows start or stop failing. */
  onEndpointErrors(fn: (id: number) => void): void {
    this.#errorListeners.push(fn);
  }

  /** Calls `fn` with an endpoint's id whenever its map state may have changed (added, diffed, removed). */
  onPolicyChanged(fn: (id: number) => void): void {
    this.#policyListeners.push(fn);
  }

  #policyChanged(id: number): void {
    for (const fn of this.#policyListeners) fn(id);
  }

  /** Rows of an endpoint's policy map the kernel refused, or that wait for an entry id. */
  policyErrors(id: number): { key: string; origin: string; message: string }[] {
    return (this.#byId.get(id)?.policy.notWritten() ?? []).map((r) => ({ key: r.id, origin: r.origin, message: r.message }));
  }

  /** Compares every policy map and the ipcache with the desired state, repairing drift. */
  reconcile(): { repaired: number; pruned: number } {
    let repaired = 0;
    let pruned = 0;
    let registrations = 0;
    const shared = this.#template.maps;
    for (const ep of this.#byId.values()) {
      const r = ep.resync ? this.#resync(ep) : ep.policy.reconcile();
      repaired += r.repaired;
      pruned += r.pruned;
      // The shared programs' outer rows of the endpoint (its interface row is a table row, refreshed below).
      if (!Object.values(shared.outer).every((m) => m.lookup(ep.id) !== undefined)) {
        registerEndpointMaps(shared, ep.id, ep.maps);
        registrations++;
      }
    }
    if (registrations) this.opts.kernelTables?.observer.refreshed?.([{ table: 'ciliate_policy_maps', repaired: registrations, pruned: 0, errors: 0 }]);
    const [info] = this.#infoReconciler.refresh();
    const r = this.ipcache.reconcile();
    return { repaired: repaired + registrations + (info?.repaired ?? 0) + r.repaired, pruned: pruned + r.pruned };
  }

  /** Releases this process's fds; programs, links and maps stay in the kernel, still enforcing. */
  close(): void {
    this.#closed = true;
    this.ipcache.reconciler.disable();
    this.#infoReconciler.disable();
    for (const ep of this.#byId.values()) {
      ep.untrack?.();
      ep.policy.close();
      ep.attachment.release();
      closeEndpointMaps(ep.maps);
    }
    this.#byId.clear();
    this.#byKey.clear();
    for (const slot of this.#slots.close()) closeEndpointMaps(slot.maps);
    this.#preparer?.close();
    this.#loaded?.close();
  }
}
