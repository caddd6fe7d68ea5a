/**
 * Puts each local endpoint's identity and policy into the kernel and keeps them there.
 *
 * Flow of `add()` (called from the CNI ADD hook, which answers only after it resolves):
 *   endpoint id (persistent) -> pod labels -> security identity -> selector cache and ipcache know it
 *   -> endpoint programs loaded, maps pinned under pinRoot (reused after a restart) -> policy map
 *   written from the engine's map state -> programs attached to the host-side veth (atomic replace of
 *   what a previous agent left pinned) -> the endpoint is ready.
 * Guarantees: the kernel keeps enforcing the last written state when the agent stops (`close()`
 * releases fds only, links and maps stay pinned); after a restart `add()` of the same endpoint
 * reuses its maps and links, so established traffic is never dropped for want of a program.
 */
import { join } from 'node:path';
import { attachPinned, type AttachMode, type InterfaceAttachment } from '../datapath/attach.ts';
import { loadEndpoint, type LoadedEndpoint, type LoadOptions } from '../datapath/loader.ts';
import { setEnforcement } from '../datapath/maps/policy.ts';
import { removePinDir } from '../datapath/bpffs.ts';
import { RouteSocket } from '../datapath/netlink/route-socket.ts';
import type { LabelSet } from '../identity/labels.ts';
import type { NamedPort } from '../policy/ports.ts';
import type { EndpointDiffs, PolicyEngine } from '../policy/engine.ts';
import type { Logger } from '../runtime/logger.ts';
import { EndpointIdAllocator } from './endpoint-ids.ts';
import { IpcacheSync } from './ipcache-sync.ts';
import { EndpointPolicyMap } from './policy-map-sync.ts';

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
  /** Runs interface work in the node's network namespace (tests; the agent itself runs inside it). */
  inNodeNetns?: <T>(fn: () => T) => T;
}

/** A local endpoint under enforcement. */
export interface EnforcedEndpoint {
  id: number;
  request: EndpointRequest;
  identity: number;
  labels: LabelSet;
  namedPorts: NamedPort[];
  ifindex: number;
  loaded: LoadedEndpoint;
  attachment: InterfaceAttachment;
  policy: EndpointPolicyMap;
}

/** Endpoint 0 is the enforcer's own load that creates and holds the node's shared maps. */
const TEMPLATE_ID = 0;

/** The interface index of a link in the calling thread's network namespace; throws ENODEV when it is missing. */
export function ifindexOf(name: string): number {
  return RouteSocket.using(undefined, (s) => s.requireLink(name).index);
}

/** The node's endpoints in the kernel. */
export class EndpointEnforcer {
  readonly ipcache: IpcacheSync;
  readonly #template: LoadedEndpoint;
  readonly #ids: EndpointIdAllocator;
  readonly #byId = new Map<number, EnforcedEndpoint>();
  readonly #byKey = new Map<string, EnforcedEndpoint>();

  constructor(readonly opts: EnforcerOptions) {
    this.#template = loadEndpoint({ endpointId: TEMPLATE_ID, identity: 1 }, { pinRoot: opts.pinRoot, maxEntries: opts.maxEntries });
    this.ipcache = new IpcacheSync(this.#template.maps.ipcache);
    this.#ids = new EndpointIdAllocator(join(opts.stateDir, 'endpoint-ids.json'));
  }

  /** The shared maps (ipcache, conntrack, metrics, events ring) of the node. */
  get sharedMaps(): LoadedEndpoint['maps'] {
    return this.#template.maps;
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
    const id = this.#ids.idFor(req.key);
    const facts = await this.opts.podFacts(req.podNamespace, req.podName);
    const tFacts = performance.now();
    const identity = await this.opts.allocateIdentity(facts.labels);
    const tIdentity = performance.now();
    this.#apply(engine.updateIdentities([[identity, facts.labels]]));
    this.ipcache.upsert('endpoint', req.ip, { identity });

    const tLoad0 = performance.now();
    const loaded = loadEndpoint({ endpointId: id, identity }, { pinRoot: this.opts.pinRoot, maxEntries: this.opts.maxEntries });
    const tLoad = performance.now();
    const policy = new EndpointPolicyMap(loaded.maps.policy);
    setEnforcement(loaded.maps.policyConfig, true, true);
    engine.upsertEndpoint({ id, identity, labels: facts.labels, namedPorts: facts.namedPorts });
    policy.replace(engine.mapState(id)?.rows() ?? []);
    const linkDir = join(this.opts.pinRoot, 'links', String(id));
    const mode = this.opts.attachMode ?? 'auto';
    const inNs = this.opts.inNodeNetns ?? ((fn) => fn());
    // A previous agent's pinned tcx links get the programs swapped in place, never leaving the veth bare.
    const { ifindex, attachment, previous } = inNs(() => {
      const ifindex = ifindexOf(req.hostIf);
      return { ifindex, ...attachPinned(linkDir, ifindex, loaded.progs, mode) };
    });
    const ep: EnforcedEndpoint = { id, request: req, identity, labels: facts.labels, namedPorts: facts.namedPorts ?? [], ifindex, loaded, attachment, policy };
    this.#byId.set(id, ep);
    this.#byKey.set(req.key, ep);
    const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
    log.info('endpoint enforced', {
      endpointId: id, identity, ip: req.ip, pod: `${req.podNamespace}/${req.podName}`, restored: previous,
      ms: { podFacts: ms(t0, tFacts), identity: ms(tFacts, tIdentity), load: ms(tLoad0, tLoad), total: ms(t0, performance.now()) },
    });
    return ep;
  }

  /**
   * Gives an endpoint new labels (its pod's or namespace's labels changed): a new identity means the
   * programs are reloaded with it over the same pinned maps and swapped in atomically; the policy is
   * recomputed either way. Returns false when the labels are unchanged.
   */
  async relabel(key: string, facts: PodFacts): Promise<boolean> {
    const ep = this.#byKey.get(key);
    const namedPorts = facts.namedPorts ?? [];
    if (!ep || (ep.labels.equals(facts.labels) && JSON.stringify(ep.namedPorts) === JSON.stringify(namedPorts))) return false;
    const { engine } = this.opts;
    const identity = await this.opts.allocateIdentity(facts.labels);
    this.#apply(engine.updateIdentities([[identity, facts.labels]]));
    if (identity !== ep.identity) {
      const loaded = loadEndpoint({ endpointId: ep.id, identity }, { pinRoot: this.opts.pinRoot, maxEntries: this.opts.maxEntries });
      (this.opts.inNodeNetns ?? ((fn) => fn()))(() => ep.attachment.replace(loaded.progs));
      ep.policy.rebind(loaded.maps.policy);
      ep.loaded.close();
      ep.loaded = loaded;
      this.ipcache.upsert('endpoint', ep.request.ip, { identity });
    }
    ep.identity = identity;
    ep.labels = facts.labels;
    ep.namedPorts = namedPorts;
    ep.policy.apply(engine.upsertEndpoint({ id: ep.id, identity, labels: facts.labels, namedPorts: facts.namedPorts }));
    this.opts.log.info('endpoint relabelled', { endpointId: ep.id, identity, pod: `${ep.request.podNamespace}/${ep.request.podName}` });
    return true;
  }

  /** Stops enforcing an endpoint and removes its programs, maps and pins. Missing = success. */
  remove(key: string): void {
    const ep = this.#byKey.get(key);
    const id = ep?.id;
    if (ep) {
      this.#byKey.delete(key);
      this.#byId.delete(ep.id);
      this.opts.engine.removeEndpoint(ep.id);
      try {
        (this.opts.inNodeNetns ?? ((fn) => fn()))(() => ep.attachment.detach());
      } catch (err) {
        this.opts.log.warn('detach failed', { endpointId: ep.id, err: (err as Error).message });
      }
      ep.loaded.close();
      if (!this.endpoints().some((o) => o.request.ip === ep.request.ip)) this.ipcache.remove('endpoint', ep.request.ip);
    }
    if (id !== undefined) {
      removePinDir(join(this.opts.pinRoot, 'links', String(id)));
      removePinDir(join(this.opts.pinRoot, 'endpoints', String(id).padStart(5, '0')));
    }
    this.#ids.release(key);
  }

  /** Applies the diffs a policy or identity change produced to the affected endpoints' maps. */
  applyDiffs(diffs: EndpointDiffs): void {
    this.#apply(diffs);
  }

  #apply(diffs: EndpointDiffs): void {
    for (const [id, diff] of diffs) this.#byId.get(id)?.policy.apply(diff);
  }

  /** Compares every policy map and the ipcache with the desired state, repairing drift. */
  reconcile(): { repaired: number; pruned: number } {
    let repaired = 0;
    let pruned = 0;
    for (const ep of this.#byId.values()) {
      const r = ep.policy.reconcile();
      repaired += r.repaired;
      pruned += r.pruned;
    }
    const r = this.ipcache.reconcile();
    return { repaired: repaired + r.repaired, pruned: pruned + r.pruned };
  }

  /** Releases this process's fds; programs, links and maps stay in the kernel, still enforcing. */
  close(): void {
    for (const ep of this.#byId.values()) {
      ep.attachment.release();
      ep.loaded.close();
    }
    this.#byId.clear();
    this.#byKey.clear();
    this.#template.close();
  }
}
