/**
 * The service load-balancing state as the agent wants it: every Service frontend with its ready
 * backends, converged into the node's shared LB maps (services with backend slots, backends,
 * reverse NAT). Changes are written as they happen, add before delete: new backends and reverse-NAT
 * rows first, then backend slots, then each frontend's slot 0 (its backend count), and only then the
 * rows nothing needs any more. `reconcile()` compares the kernel maps with the desired rows, repairs
 * drift and prunes the rest. Backend ids and reverse-NAT indices stay stable while in use and are
 * taken over from the kernel maps after a restart, so established flows keep their reverse NAT.
 * Until `prime()` (the full desired state known) nothing is deleted: a restarted agent keeps the
 * kernel's services working while its caches fill.
 */
import { writeFileSync, renameSync } from 'node:fs';
import type { Codec } from '../datapath/codecs/codec.ts';
import {
  l4AddrText, lbBackendAddr, lbBackendValue, lbRevNatValue, lbServiceEntries, LB_CODECS, type L4Addr, type LbMaps,
} from '../datapath/maps/lb.ts';
import type { BpfMap } from '../datapath/maps/bpf-map.ts';
import { numberToIpv4 } from '../datapath/net.ts';

/** The file in the agent's state folder where the desired service state is published. */
export const SERVICES_STATE_FILE = 'services.json';

/** One frontend of a service and the backends new connections may go to. */
export interface ServiceFrontend {
  frontend: L4Addr;
  backends: L4Addr[];
}

/** A frontend as `ciliate service list` shows it. */
export interface ServiceListRow {
  service: string;
  frontend: string;
  revNatIndex: number;
  backends: string[];
}

/** What a convergence wrote and removed. */
export interface LbDrift {
  repaired: number;
  pruned: number;
}

/** Rows of one map, by the hex of the encoded key. */
type Rows<K, V> = Map<string, [K, V]>;

/** Rows of the three maps. */
interface LbRows {
  services: Rows<Parameters<LbMaps['services']['update']>[0], Parameters<LbMaps['services']['update']>[1]>;
  backends: Rows<number, ReturnType<typeof lbBackendValue>>;
  revNat: Rows<number, ReturnType<typeof lbRevNatValue>>;
}

function rowsOf<K, V>(codec: Codec<K>, entries: Array<[K, V]>): Rows<K, V> {
  return new Map(entries.map((e) => [codec.encode(e[0]).toString('hex'), e] as const));
}

/** The lowest positive number not in `used`. */
function lowestFree(used: Set<number>, max: number): number {
  for (let i = 1; i <= max; i++) if (!used.has(i)) return i;
  throw new Error('LB id space exhausted');
}

/** Writes what `want` has and `have` lacks or differs in, in `order`; returns the written rows. */
function writeDiff<K, V>(map: BpfMap<K, V>, codec: Codec<V>, want: Rows<K, V>, have: Rows<K, V>, order?: (a: [K, V], b: [K, V]) => number): number {
  const write = [...want].filter(([h, [, v]]) => {
    const cur = have.get(h);
    return !cur || !codec.encode(cur[1]).equals(codec.encode(v));
  }).map(([, e]) => e);
  if (order) write.sort(order);
  for (const [k, v] of write) map.update(k, v);
  return write.length;
}

/** Deletes what `have` has and `want` lacks, in `order`; returns the removed rows. */
function deleteDiff<K, V>(map: BpfMap<K, V>, want: Rows<K, V>, have: Rows<K, V>, order?: (a: [K, V], b: [K, V]) => number): number {
  const gone = [...have].filter(([h]) => !want.has(h)).map(([, e]) => e);
  if (order) gone.sort(order);
  for (const [k] of gone) map.delete(k);
  return gone.length;
}

/** The agent's model of the LB maps, written through to the kernel. */
export class LbSync {
  readonly #services = new Map<string, ServiceFrontend[]>();
  readonly #backendIds = new Map<string, number>();
  readonly #revNat = new Map<string, number>();
  #written: LbRows;
  #primed = false;

  /** `statePath`: where the desired state is published for `ciliate service list` (optional). */
  constructor(readonly maps: LbMaps, readonly statePath?: string) {
    this.#written = this.#kernelRows();
    for (const [, [id, b]] of this.#written.backends) this.#backendIds.set(l4AddrText(lbBackendAddr(b)), id);
    for (const [, [idx, r]] of this.#written.revNat) this.#revNat.set(l4AddrText({ ip: numberToIpv4(r.address), port: r.port, proto: 0 }), idx);
  }

  /** Sets a service's frontends (a `namespace/name` key); writes the change through. */
  upsert(service: string, frontends: ServiceFrontend[]): void {
    this.#services.set(service, frontends.map((f) => ({ frontend: f.frontend, backends: [...f.backends].sort((a, b) => l4AddrText(a).localeCompare(l4AddrText(b))) })));
    this.#flush();
  }

  /** Forgets a service; its rows leave the kernel. */
  remove(service: string): void {
    if (this.#services.delete(service)) this.#flush();
  }

  /** The desired state: every frontend with its reverse-NAT index and backends. */
  list(): ServiceListRow[] {
    const rows: ServiceListRow[] = [];
    for (const [service, fronts] of [...this.#services].sort(([a], [b]) => a.localeCompare(b))) {
      for (const f of fronts) {
        rows.push({ service, frontend: l4AddrText(f.frontend), revNatIndex: this.#revNat.get(this.#revNatKey(f.frontend)) ?? 0, backends: f.backends.map(l4AddrText) });
      }
    }
    return rows;
  }

  /** Called once the desired state is complete: from now on rows nothing needs are deleted. */
  prime(): LbDrift {
    this.#primed = true;
    return this.reconcile();
  }

  /** Makes the kernel maps equal the desired rows; returns the rows it had to fix. */
  reconcile(): LbDrift {
    const want = this.#desired();
    const r = this.#converge(want, this.#kernelRows());
    this.#written = this.#primed ? want : this.#kernelRows();
    return r;
  }

  #revNatKey(f: L4Addr): string {
    return l4AddrText({ ...f, proto: 0 });
  }

  /** Allocates ids for what is in use, releases the others, and builds every row. */
  #desired(): LbRows {
    const fronts = new Map<string, ServiceFrontend>();
    for (const list of this.#services.values()) for (const f of list) fronts.set(l4AddrText(f.frontend), f);
    const usedBackends = new Set([...fronts.values()].flatMap((f) => f.backends.map(l4AddrText)));
    const usedRevNat = new Set([...fronts.values()].map((f) => this.#revNatKey(f.frontend)));
    // Ids of rows still in the kernel stay reserved until priming allows their deletion.
    if (this.#primed) {
      for (const k of this.#backendIds.keys()) if (!usedBackends.has(k)) this.#backendIds.delete(k);
      for (const k of this.#revNat.keys()) if (!usedRevNat.has(k)) this.#revNat.delete(k);
    }
    const backendId = (a: L4Addr): number => {
      const k = l4AddrText(a);
      let id = this.#backendIds.get(k);
      if (id === undefined) this.#backendIds.set(k, (id = lowestFree(new Set(this.#backendIds.values()), 0xffffffff)));
      return id;
    };
    const revNatIndex = (f: L4Addr): number => {
      const k = this.#revNatKey(f);
      let idx = this.#revNat.get(k);
      if (idx === undefined) this.#revNat.set(k, (idx = lowestFree(new Set(this.#revNat.values()), 0xffff)));
      return idx;
    };
    const services = [...fronts.values()].flatMap((f) => lbServiceEntries({
      frontend: f.frontend, revNatIndex: revNatIndex(f.frontend), backends: f.backends.map((addr) => ({ id: backendId(addr), addr })),
    }));
    const backends = [...fronts.values()].flatMap((f) => f.backends.map((a): [number, ReturnType<typeof lbBackendValue>] => [backendId(a), lbBackendValue(a)]));
    const revNat = [...fronts.values()].map((f): [number, ReturnType<typeof lbRevNatValue>] => [revNatIndex(f.frontend), lbRevNatValue(f.frontend)]);
    return {
      services: rowsOf(LB_CODECS.serviceKey, services),
      backends: rowsOf(LB_CODECS.backendId, backends),
      revNat: rowsOf(LB_CODECS.revNatIndex, revNat),
    };
  }

  #kernelRows(): LbRows {
    return {
      services: rowsOf(LB_CODECS.serviceKey, this.maps.services.entries()),
      backends: rowsOf(LB_CODECS.backendId, this.maps.backends.entries()),
      revNat: rowsOf(LB_CODECS.revNatIndex, this.maps.revNat.entries()),
    };
  }

  /** Add before delete: backends, reverse NAT, backend slots, slot 0; then stale slot 0s, slots, backends, reverse NAT. */
  #converge(want: LbRows, have: LbRows): LbDrift {
    const { services, backends, revNat } = this.maps;
    const slotDesc = (a: [{ backendSlot: number }, unknown], b: [{ backendSlot: number }, unknown]) => b[0].backendSlot - a[0].backendSlot;
    let repaired = writeDiff(backends, LB_CODECS.backend, want.backends, have.backends);
    repaired += writeDiff(revNat, LB_CODECS.revNat, want.revNat, have.revNat);
    repaired += writeDiff(services, LB_CODECS.service, want.services, have.services, slotDesc);
    if (!this.#primed) return { repaired, pruned: 0 };
    let pruned = deleteDiff(services, want.services, have.services, (a, b) => -slotDesc(a, b));
    pruned += deleteDiff(backends, want.backends, have.backends);
    pruned += deleteDiff(revNat, want.revNat, have.revNat);
    return { repaired, pruned };
  }

  #flush(): void {
    const want = this.#desired();
    this.#converge(want, this.#written);
    // Before priming, rows not deleted stay known as written, so a later flush still sees them.
    this.#written = this.#primed ? want : this.#kernelRows();
    if (this.statePath) {
      writeFileSync(`${this.statePath}.tmp`, JSON.stringify(this.list(), null, 2) + '\n');
      renameSync(`${this.statePath}.tmp`, this.statePath);
    }
  }
}
