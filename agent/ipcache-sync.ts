/**
 * The ipcache as the agent wants it: every known address or prefix with its security identity and
 * tunnel endpoint, converged into the shared BPF ipcache map. Several sources may claim one prefix
 * (a pod's CiliumEndpoint, the apiserver's address, a node address, a CIDR identity, the default
 * world prefix); the most specific source wins, in the order of IPCACHE_SOURCES. The winning claim
 * of each prefix is a row of the `cilium_ipcache` desired table, which `reconciler` writes as it
 * changes once the map is open (a row the kernel refuses, e.g. a full map, stays in error and is
 * retried); `reconcile()`
 * compares the kernel map with the rows, repairs drift and prunes what nobody claims.
 */
import { ipcacheKey, ipcacheValue, IPCACHE_CODECS, type IpcacheMap } from '../datapath/maps/ipcache.ts';
import type { IpcacheKey, RemoteEndpointInfo } from '../datapath/codecs/generated.ts';
import { bpfMapOps, mapTable } from '../datapath/maps/map-ops.ts';
import { TableReconciler, type TableReconcilerObserver } from '../runtime/reconciler/reconciler.ts';
import type { DesiredTable } from '../runtime/reconciler/table.ts';
import type { Logger } from '../runtime/logger.ts';
import { intToIp, ipToInt } from './ipv4.ts';

/** Where an ipcache row comes from, strongest first. */
export const IPCACHE_SOURCES = ['endpoint', 'apiserver', 'node', 'cidr', 'world'] as const;

/** One source of ipcache rows. */
export type IpcacheSource = (typeof IPCACHE_SOURCES)[number];

/** What a prefix resolves to. */
export interface IpcacheInfo {
  identity: number;
  tunnelEndpoint?: string;
}

/** What `reconcile()` found and repaired. */
export interface IpcacheDrift {
  repaired: number;
  pruned: number;
}

function canonical(cidr: string): string {
  return cidr.includes('/') ? cidr : `${cidr}/32`;
}

/** The agent's model of the ipcache, reconciled into the kernel. */
export class IpcacheSync {
  readonly #claims = new Map<string, Map<IpcacheSource, IpcacheInfo>>();
  /** The winning claim of every prefix, as kernel rows. */
  readonly table: DesiredTable<IpcacheKey, RemoteEndpointInfo> = mapTable('cilium_ipcache', IPCACHE_CODECS.key, IPCACHE_CODECS.value);
  /** Writes `table` into the map once it is open. */
  readonly reconciler: TableReconciler;
  #map: IpcacheMap | undefined;

  /** With `map`, opened at once; without, claims wait in the table until {@link open}. */
  constructor(map?: IpcacheMap, log?: Logger, observer?: TableReconcilerObserver) {
    this.reconciler = new TableReconciler({ name: 'ipcache', tables: [{ table: this.table, ops: bpfMapOps(() => this.map) }], ...(log ? { log } : {}), ...(observer ? { observer } : {}) });
    if (map) this.open(map);
  }

  /** Starts writing the claims into `map`. */
  open(map: IpcacheMap): void {
    this.#map = map;
    this.reconciler.enable();
  }

  /** The kernel map (throws before {@link open}). */
  get map(): IpcacheMap {
    if (!this.#map) throw new Error('the ipcache map is not open yet');
    return this.#map;
  }

  /** The row a prefix resolves to now, if any source claims it. */
  lookup(cidr: string): IpcacheInfo | undefined {
    const claims = this.#claims.get(canonical(cidr));
    if (!claims) return undefined;
    for (const s of IPCACHE_SOURCES) {
      const info = claims.get(s);
      if (info) return info;
    }
    return undefined;
  }

  /** The row an address resolves to, as the datapath's longest-prefix lookup finds it. */
  resolve(ip: string): IpcacheInfo | undefined {
    const n = ipToInt(ip);
    for (let len = 32; len >= 0; len--) {
      const info = this.lookup(`${intToIp(len === 0 ? 0 : (n & (~0 << (32 - len))) >>> 0)}/${len}`);
      if (info) return info;
    }
    return undefined;
  }

  /** Sets `source`'s claim on a prefix (a bare address means /32); the kernel row follows the winning claim. */
  upsert(source: IpcacheSource, cidr: string, info: IpcacheInfo): void {
    const key = canonical(cidr);
    let claims = this.#claims.get(key);
    if (!claims) this.#claims.set(key, (claims = new Map()));
    claims.set(source, { ...info });
    this.#settle(key);
  }

  /** Drops `source`'s claim; the kernel row follows the next claim, or goes when none is left. */
  remove(source: IpcacheSource, cidr: string): void {
    const key = canonical(cidr);
    const claims = this.#claims.get(key);
    if (!claims?.delete(source)) return;
    if (!claims.size) this.#claims.delete(key);
    this.#settle(key);
  }

  /** Puts the winning claim of `cidr` into the table (or its absence). */
  #settle(cidr: string): void {
    const win = this.lookup(cidr);
    const origin = win ? IPCACHE_SOURCES.find((s) => this.#claims.get(cidr)?.get(s) === win)! : 'none';
    if (win) this.table.set(ipcacheKey(cidr), ipcacheValue(win.identity, win.tunnelEndpoint), origin);
    else this.table.delete(ipcacheKey(cidr));
  }

  /** Runs `fn` (many claims) as one round of kernel writes. */
  batch<T>(fn: () => T): T {
    return this.table.batch(fn);
  }

  /** Every prefix `source` claims. */
  claimedBy(source: IpcacheSource): string[] {
    return [...this.#claims].filter(([, c]) => c.has(source)).map(([cidr]) => cidr);
  }

  /** Makes the kernel map equal the desired rows; returns the rows it had to fix. */
  reconcile(): IpcacheDrift {
    const [r] = this.reconciler.refresh();
    return { repaired: r?.repaired ?? 0, pruned: r?.pruned ?? 0 };
  }
}
