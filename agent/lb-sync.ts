/**
 * The service load-balancing state as the agent wants it, written through to the node's shared LB
 * maps one frontend at a time: a change to one Service touches only its own rows, so 10,000 Services
 * cost no more per change than one.
 *
 * Per frontend (address, port, protocol): slot 0 and backend slots per scope, a reverse-NAT row, a
 * Maglev table when asked for, and affinity-match rows with session affinity. Backends are shared
 * between frontends and counted. Every kind of row is a desired table, one reconciler writes them
 * add before delete: backends, reverse NAT, Maglev slots and affinity pairs first, then backend
 * slots, then slot 0 (which makes the new set live), and only then the rows nothing uses any more.
 * A row the kernel refuses stays in error and is retried.
 *
 * A frontend claimed by two Services (e.g. the same externalIP) belongs to the one whose key sorts
 * first; the other takes over when it lets go.
 *
 * Restart: backend ids and reverse-NAT indices are taken over from the kernel maps, so established
 * flows keep their reverse NAT. Until `prime()` (the full desired state known) nothing is deleted:
 * rows no longer wanted leave the tables only; `reconcile()` compares the kernel maps with the
 * desired rows, repairs drift and, once primed, prunes the rest.
 */
import { writeFileSync, renameSync } from 'node:fs';
import type { Lb4Backend, Lb4Key, Lb4MaglevKey, Lb4ReverseNat, Lb4Service, LbAffinityMatch } from '../datapath/codecs/generated.ts';
import {
  l4AddrText, lbBackendAddr, lbBackendValue, lbRevNatValue, lbServiceEntries, LB_CODECS, LB_SCOPE, SVC_FLAG, SVC_FLAG2,
  type L4Addr, type LbMaps,
} from '../datapath/maps/lb.ts';
import { numberToIpv4 } from '../datapath/net.ts';
import { u8Codec, u32Codec } from '../datapath/maps/percpu.ts';
import { bpfMapOps, codecHex, mapTable, sameEncoding } from '../datapath/maps/map-ops.ts';
import { TableReconciler, type TableReconcilerObserver } from '../runtime/reconciler/reconciler.ts';
import { batchAll, type DesiredTable } from '../runtime/reconciler/table.ts';
import type { Logger } from '../runtime/logger.ts';
import { maglevTable, MAGLEV_DEFAULT_SIZE } from './lb-maglev.ts';
import { IdPool } from './id-pool.ts';

/** The file in the agent's state folder where the desired service state is published. */
export const SERVICES_STATE_FILE = 'services.json';

/** How a frontend is reached. */
export type FrontendKind = 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';

/** A backend address; `local` when it runs on this node. */
export interface LbBackend extends L4Addr {
  local?: boolean;
}

/** One frontend of a service and the backends new connections may go to. */
export interface ServiceFrontend {
  frontend: L4Addr;
  /** Default ClusterIP. */
  kind?: FrontendKind;
  /** Backends of the external scope (the only scope unless `internalBackends` is set). */
  backends: LbBackend[];
  /** A second scope for clients inside the cluster (external traffic policy Local, internal Cluster). */
  internalBackends?: LbBackend[];
  /** sessionAffinity ClientIP with this timeout. */
  affinityTimeoutSec?: number;
  /** Maglev instead of random backend selection. */
  maglev?: boolean;
  /** Backends of the external scope are node-local only (traffic policy Local). */
  localOnly?: boolean;
}

/** A frontend as `ciliate service list` shows it. */
export interface ServiceListRow {
  service: string;
  frontend: string;
  type: FrontendKind;
  revNatIndex: number;
  backends: string[];
  /** Backends of the internal scope, when it differs. */
  internalBackends?: string[];
  affinityTimeoutSec?: number;
  algorithm: 'random' | 'maglev';
}

/** What a convergence wrote and removed. */
export interface LbDrift {
  repaired: number;
  pruned: number;
}

/** What is written for one frontend. */
interface Applied {
  service: string;
  fe: ServiceFrontend;
  revNat: number;
  /** Backend addresses this frontend holds a reference on (each once). */
  backendKeys: string[];
  services: Array<[Lb4Key, Lb4Service]>;
  affinity: LbAffinityMatch[];
  maglev?: Uint32Array;
}

/** A shared backend: its id, the frontends using it, and its map value. */
interface BackendRef {
  id: number;
  refs: number;
  value: Lb4Backend;
}

const frontKey = (f: L4Addr): string => l4AddrText(f);

/** The desired LB rows, one table per map. */
export interface LbTables {
  backends: DesiredTable<number, Lb4Backend>;
  revNat: DesiredTable<number, Lb4ReverseNat>;
  maglev: DesiredTable<Lb4MaglevKey, number>;
  affinityMatch: DesiredTable<LbAffinityMatch, number>;
  services: DesiredTable<Lb4Key, Lb4Service>;
}

const KIND_FLAGS: Record<FrontendKind, number> = {
  ClusterIP: 0, NodePort: SVC_FLAG.NODEPORT, ExternalIP: SVC_FLAG.EXTERNAL_IP, LoadBalancer: SVC_FLAG.LOADBALANCER,
};

/** Deduplicates backends by address, keeping the first. */
function uniqueBackends(list: LbBackend[]): LbBackend[] {
  const seen = new Map<string, LbBackend>();
  for (const b of list) if (!seen.has(l4AddrText(b))) seen.set(l4AddrText(b), b);
  return [...seen.values()].sort((a, b) => l4AddrText(a).localeCompare(l4AddrText(b)));
}

/** The agent's model of the LB maps, written through to the kernel. */
export class LbSync {
  readonly #claims = new Map<string, Map<string, ServiceFrontend>>();
  readonly #byService = new Map<string, string[]>();
  readonly #applied = new Map<string, Applied>();
  readonly #backends = new Map<string, BackendRef>();
  /** Reverse-NAT indices found in the kernel at start, by frontend; taken over when claimed. */
  readonly #kernelRevNat = new Map<string, number>();
  /** Backend ids found in the kernel at start, by address. */
  readonly #kernelBackends = new Map<string, number>();
  readonly #backendIds = new IdPool(0xffffffff);
  readonly #revNatIds = new IdPool(0xffff);
  #primed = false;
  #stateTimer: NodeJS.Timeout | undefined;
  /** The desired rows of every LB map. */
  readonly tables: LbTables = {
    backends: mapTable('cilium_lb4_backends_v3', LB_CODECS.backendId, LB_CODECS.backend),
    revNat: mapTable('cilium_lb4_reverse_nat', LB_CODECS.revNatIndex, LB_CODECS.revNat),
    maglev: mapTable('cilium_lb4_maglev', LB_CODECS.maglevKey, u32Codec),
    affinityMatch: mapTable('cilium_lb_affinity_match', LB_CODECS.affinityMatch, u8Codec),
    services: mapTable('cilium_lb4_services_v2', LB_CODECS.serviceKey, LB_CODECS.service),
  };
  /** Writes the tables into the maps (dependencies first, slot 0 last; deletes the other way round). */
  readonly reconciler: TableReconciler;
  #maps: LbMaps | undefined;

  /**
   * `maps`: opened at once when given, else by {@link open} (before the first upsert).
   * `statePath`: where the desired state is published for `ciliate service list` (optional).
   * `maglevTableSize`: entries of each Maglev table (must match the programs' configuration).
   */
  constructor(maps?: LbMaps, readonly statePath?: string, readonly maglevTableSize: number = MAGLEV_DEFAULT_SIZE, log?: Logger, observer?: TableReconcilerObserver) {
    const t = this.tables;
    const prune = () => this.#primed;
    this.reconciler = new TableReconciler({
      name: 'lb', ...(log ? { log } : {}), ...(observer ? { observer } : {}),
      tables: [
        { table: t.backends, ops: bpfMapOps(() => this.maps.backends), prune },
        { table: t.revNat, ops: bpfMapOps(() => this.maps.revNat), prune },
        { table: t.maglev, ops: bpfMapOps(() => this.maps.maglev), prune },
        { table: t.affinityMatch, ops: bpfMapOps(() => this.maps.affinityMatch), prune },
        { table: t.services, ops: bpfMapOps(() => this.maps.services), prune, order: (a, b) => b.backendSlot - a.backendSlot },
      ],
    });
    if (maps) this.open(maps);
  }

  /** The kernel maps (throws before {@link open}). */
  get maps(): LbMaps {
    if (!this.#maps) throw new Error('the LB maps are not open yet');
    return this.#maps;
  }

  /** Takes over the ids the kernel maps hold (a restart) and starts writing into them. */
  open(maps: LbMaps): void {
    this.#maps = maps;
    for (const [id, b] of maps.backends.entries()) {
      this.#kernelBackends.set(l4AddrText(lbBackendAddr(b)), id);
      this.#backendIds.reserve(id);
    }
    for (const [idx] of maps.revNat.entries()) this.#revNatIds.reserve(idx);
    for (const [k, v] of maps.services.entries()) {
      if (k.backendSlot !== 0 || k.scope !== LB_SCOPE.EXT) continue;
      this.#kernelRevNat.set(frontKey({ ip: numberToIpv4(k.address), port: k.dport, proto: k.proto }), v.revNatIndex);
      this.#revNatIds.reserve(v.revNatIndex);
    }
    this.reconciler.enable();
  }

  /** Sets a service's frontends (a `namespace/name` key); writes the change through. */
  upsert(service: string, frontends: ServiceFrontend[]): void {
    const old = this.#byService.get(service) ?? [];
    for (const k of old) this.#claims.get(k)?.delete(service);
    const keys: string[] = [];
    for (const f of frontends) {
      const k = frontKey(f.frontend);
      keys.push(k);
      let claim = this.#claims.get(k);
      if (!claim) this.#claims.set(k, (claim = new Map()));
      claim.set(service, f);
    }
    if (keys.length) this.#byService.set(service, keys);
    else this.#byService.delete(service);
    batchAll(Object.values(this.tables), () => {
      for (const k of new Set([...old, ...keys])) this.#settle(k);
    });
    this.#publish();
  }

  /** Forgets a service; its rows leave the kernel. */
  remove(service: string): void {
    if (!this.#byService.has(service)) return;
    this.upsert(service, []);
  }

  /** The desired state: every frontend with its reverse-NAT index and backends. */
  list(): ServiceListRow[] {
    return [...this.#applied.values()].map((a): ServiceListRow => ({
      service: a.service,
      frontend: frontKey(a.fe.frontend),
      type: a.fe.kind ?? 'ClusterIP',
      revNatIndex: a.revNat,
      backends: uniqueBackends(a.fe.backends).map(l4AddrText),
      ...(a.fe.internalBackends ? { internalBackends: uniqueBackends(a.fe.internalBackends).map(l4AddrText) } : {}),
      ...(a.fe.affinityTimeoutSec ? { affinityTimeoutSec: a.fe.affinityTimeoutSec } : {}),
      algorithm: a.fe.maglev ? 'maglev' : 'random',
    })).sort((a, b) => a.service.localeCompare(b.service) || a.frontend.localeCompare(b.frontend));
  }

  /** Called once the desired state is complete: from now on rows nothing needs are deleted. */
  prime(): LbDrift {
    this.#primed = true;
    const r = this.reconcile();
    this.#kernelRevNat.clear();
    this.#kernelBackends.clear();
    this.#publish();
    return r;
  }

  /** Makes the kernel maps equal the desired rows; returns the rows it had to fix. */
  reconcile(): LbDrift {
    return this.reconciler.refresh().reduce((a, r) => ({ repaired: a.repaired + r.repaired, pruned: a.pruned + r.pruned }), { repaired: 0, pruned: 0 });
  }

  /** A row no longer wanted: deleted from the kernel once primed, before that only forgotten. */
  #drop<K, V>(table: DesiredTable<K, V>, key: K): void {
    if (this.#primed) table.delete(key);
    else table.forget(key);
  }

  /** Brings one frontend's rows to what its owning claim wants. */
  #settle(key: string): void {
    const claim = this.#claims.get(key);
    const owner = claim && claim.size ? [...claim.keys()].sort()[0]! : undefined;
    if (claim && !claim.size) this.#claims.delete(key);
    const old = this.#applied.get(key);
    if (!owner) {
      if (old) this.#retire(key, old);
      return;
    }
    const next = this.#build(owner, claim!.get(owner)!, old);
    this.#write(next, old);
    this.#applied.set(key, next);
    if (old) this.#release(old.backendKeys);
  }

  /** Computes a frontend's rows, taking references on its backends. */
  #build(service: string, fe: ServiceFrontend, old: Applied | undefined): Applied {
    const key = frontKey(fe.frontend);
    const revNat = old?.revNat ?? this.#kernelRevNat.get(key) ?? this.#revNatIds.take();
    this.#revNatIds.reserve(revNat);
    const ext = uniqueBackends(fe.backends);
    const int = fe.internalBackends ? uniqueBackends(fe.internalBackends) : undefined;
    const all = uniqueBackends([...ext, ...(int ?? [])]);
    const backendKeys = all.map((b) => this.#acquire(b));
    const idOf = (b: LbBackend) => this.#backends.get(l4AddrText(b))!.id;
    const flags = KIND_FLAGS[fe.kind ?? 'ClusterIP'] | (fe.affinityTimeoutSec ? SVC_FLAG.AFFINITY : 0) | (fe.localOnly ? SVC_FLAG.EXT_LOCAL_SCOPE : 0);
    const flags2 = (int ? SVC_FLAG2.TWO_SCOPES : 0) | (fe.maglev ? SVC_FLAG2.MAGLEV : 0);
    const scope = (s: number, list: LbBackend[]) => lbServiceEntries({
      frontend: fe.frontend, scope: s, revNatIndex: revNat, flags, flags2, affinityTimeoutSec: fe.affinityTimeoutSec ?? 0, backendIds: list.map(idOf),
    });
    const services = [...scope(LB_SCOPE.EXT, ext), ...(int ? scope(LB_SCOPE.INT, int) : [])];
    const affinity = fe.affinityTimeoutSec ? all.map((b): LbAffinityMatch => ({ backendId: idOf(b), revNatId: revNat })) : [];
    // Maglev spreads the external scope (north-south traffic, as upstream); internal clients share it.
    const maglev = fe.maglev && ext.length ? maglevTable(ext.map(l4AddrText), ext.map(idOf), this.maglevTableSize) : undefined;
    return { service, fe, revNat, backendKeys, services, affinity, ...(maglev ? { maglev } : {}) };
  }

  /** A reference on a backend; writes its row when it is new or its value changed. Returns its key. */
  #acquire(b: LbBackend): string {
    const k = l4AddrText(b);
    const value = lbBackendValue(b, b.local ?? false);
    let ref = this.#backends.get(k);
    if (!ref) {
      const known = this.#kernelBackends.get(k);
      const id = known ?? this.#backendIds.take();
      this.#backendIds.reserve(id);
      this.#backends.set(k, (ref = { id, refs: 0, value }));
      this.tables.backends.set(id, value, k);
    } else if (!sameEncoding(LB_CODECS.backend, ref.value, value)) {
      ref.value = value;
      this.tables.backends.set(ref.id, value, k);
    }
    ref.refs++;
    return k;
  }

  /** Drops references; a backend nothing uses leaves the kernel (once primed). */
  #release(keys: string[]): void {
    for (const k of keys) {
      const ref = this.#backends.get(k)!;
      if (--ref.refs > 0) continue;
      this.#backends.delete(k);
      // Before priming the row stays; the address keeps its id should it come back.
      if (!this.#primed) {
        this.#kernelBackends.set(k, ref.id);
        this.tables.backends.forget(ref.id);
        continue;
      }
      this.tables.backends.delete(ref.id);
      this.#backendIds.free(ref.id);
    }
  }

  /** Puts `next` into the tables over `old` (the reconciler orders the writes). */
  #write(next: Applied, old: Applied | undefined): void {
    const { services, revNat, maglev, affinityMatch: affinity } = this.tables;
    const origin = next.service;
    revNat.set(next.revNat, lbRevNatValue(next.fe.frontend), origin);
    if (next.maglev) {
      next.maglev.forEach((id, slot) => {
        if (!old?.maglev || old.revNat !== next.revNat || old.maglev[slot] !== id) maglev.set({ revNatId: next.revNat, slot }, id, origin);
      });
    }
    for (const m of next.affinity) affinity.set(m, 1, origin);
    for (const [k, v] of next.services) services.set(k, v, origin);
    if (!old) return;
    const nextServices = new Set(next.services.map(([k]) => codecHex(LB_CODECS.serviceKey, k)));
    for (const [k] of old.services) if (!nextServices.has(codecHex(LB_CODECS.serviceKey, k))) this.#drop(services, k);
    const nextAffinity = new Set(next.affinity.map((m) => codecHex(LB_CODECS.affinityMatch, m)));
    for (const m of old.affinity) if (!nextAffinity.has(codecHex(LB_CODECS.affinityMatch, m))) this.#drop(affinity, m);
    if (old.maglev && (!next.maglev || old.revNat !== next.revNat)) old.maglev.forEach((_id, slot) => this.#drop(maglev, { revNatId: old.revNat, slot }));
    if (old.revNat !== next.revNat) this.#drop(revNat, old.revNat);
  }

  /** Removes a frontend: slot 0 first (no new connections), then its other rows. */
  #retire(key: string, old: Applied): void {
    this.#applied.delete(key);
    const { services, revNat, maglev, affinityMatch: affinity } = this.tables;
    for (const [k] of old.services) this.#drop(services, k);
    for (const m of old.affinity) this.#drop(affinity, m);
    if (old.maglev) old.maglev.forEach((_id, slot) => this.#drop(maglev, { revNatId: old.revNat, slot }));
    this.#drop(revNat, old.revNat);
    if (this.#primed) this.#revNatIds.free(old.revNat);
    this.#release(old.backendKeys);
  }

  /** Publishes the desired state for the CLI, at most every 100 ms. */
  #publish(): void {
    if (!this.statePath || this.#stateTimer) return;
    this.#stateTimer = setTimeout(() => {
      this.#stateTimer = undefined;
      this.flushState();
    }, 100);
    this.#stateTimer.unref();
  }

  /** Writes the published state file now. */
  flushState(): void {
    if (!this.statePath) return;
    writeFileSync(`${this.statePath}.tmp`, JSON.stringify(this.list(), null, 2) + '\n');
    renameSync(`${this.statePath}.tmp`, this.statePath);
  }
}
