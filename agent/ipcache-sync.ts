/**
 * The ipcache as the agent wants it: every known address or prefix with its security identity and
 * tunnel endpoint, converged into the shared BPF ipcache map. Several sources may claim one prefix
 * (a pod's CiliumEndpoint, the apiserver's address, a node address, a CIDR identity, the default
 * world prefix); the most specific source wins, in the order of IPCACHE_SOURCES. Changes are written as they happen; `reconcile()` compares the kernel
 * map with the desired rows, repairs drift and prunes what nobody claims.
 */
import { ipcacheEntry, ipcacheKeyCidr, type IpcacheMap } from '../datapath/maps/ipcache.ts';

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

function same(a: IpcacheInfo | undefined, b: IpcacheInfo | undefined): boolean {
  return a?.identity === b?.identity && (a?.tunnelEndpoint ?? '') === (b?.tunnelEndpoint ?? '');
}

/** The agent's model of the ipcache, written through to the kernel. */
export class IpcacheSync {
  readonly #claims = new Map<string, Map<IpcacheSource, IpcacheInfo>>();

  constructor(readonly map: IpcacheMap) {}

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

  /** Sets `source`'s claim on a prefix (a bare address means /32); writes the kernel row if it changed. */
  upsert(source: IpcacheSource, cidr: string, info: IpcacheInfo): void {
    const key = canonical(cidr);
    const before = this.lookup(key);
    let claims = this.#claims.get(key);
    if (!claims) this.#claims.set(key, (claims = new Map()));
    claims.set(source, { ...info });
    const after = this.lookup(key)!;
    if (!same(before, after)) this.map.update(...ipcacheEntry(key, after.identity, after.tunnelEndpoint));
  }

  /** Drops `source`'s claim; the kernel row follows the next claim, or goes when none is left. */
  remove(source: IpcacheSource, cidr: string): void {
    const key = canonical(cidr);
    const claims = this.#claims.get(key);
    if (!claims?.delete(source)) return;
    const after = this.lookup(key);
    if (after) this.map.update(...ipcacheEntry(key, after.identity, after.tunnelEndpoint));
    else {
      this.#claims.delete(key);
      this.map.delete(ipcacheEntry(key, 0)[0]);
    }
  }

  /** Every prefix `source` claims. */
  claimedBy(source: IpcacheSource): string[] {
    return [...this.#claims].filter(([, c]) => c.has(source)).map(([cidr]) => cidr);
  }

  /** Makes the kernel map equal the desired rows; returns the rows it had to fix. */
  reconcile(): IpcacheDrift {
    const actual = new Map(this.map.entries().map(([k, v]) => [ipcacheKeyCidr(k), v] as const));
    const write: ReturnType<typeof ipcacheEntry>[] = [];
    for (const cidr of this.#claims.keys()) {
      const want = this.lookup(cidr)!;
      const [, wantValue] = ipcacheEntry(cidr, want.identity, want.tunnelEndpoint);
      const have = actual.get(cidr);
      if (!have || have.secIdentity !== wantValue.secIdentity || have.tunnelEndpoint !== wantValue.tunnelEndpoint) {
        write.push(ipcacheEntry(cidr, want.identity, want.tunnelEndpoint));
      }
    }
    const prune = [...actual.keys()].filter((cidr) => !this.#claims.has(cidr)).map((cidr) => ipcacheEntry(cidr, 0)[0]);
    this.map.updateBatch(write);
    this.map.deleteBatch(prune);
    return { repaired: write.length, pruned: prune.length };
  }
}
