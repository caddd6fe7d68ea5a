// multi-pool IPAM: per-node blocks from CiliumPodIPPool objects.
import { BlockPool } from './block-pool.ts';
import type { Family } from './cidr.ts';
import { exhaustedMessage } from './cluster-pool.ts';

/** The ipv4/ipv6 parts of a CiliumPodIPPool spec. */
export interface PoolSpec {
  readonly ipv4?: { readonly cidrs: readonly string[]; readonly maskSize: number };
  readonly ipv6?: { readonly cidrs: readonly string[]; readonly maskSize: number };
}

/** A node's blocks from one pool, as in CiliumNode spec.ipam.pools.allocated. */
export interface PoolAllocation {
  pool: string;
  cidrs: string[];
}

/** What {@link MultiPoolAllocator.assign} decided for one node. */
export interface PoolAssignment {
  /** The allocation list the node should have (pools sorted by name). */
  readonly allocated: PoolAllocation[];
  /** Whether it differs from the current list. */
  readonly changed: boolean;
  /** Problems (unknown or exhausted pools), one message each. */
  readonly errors: string[];
}

const FAMILIES: Family[] = ['ipv4', 'ipv6'];

/**
 * Per-pool, per-family {@link BlockPool}s built from CiliumPodIPPool objects. A node asks for
 * a number of addresses from each pool it needs; it gets enough blocks to cover them (at
 * least one), and blocks of pools it no longer needs are released.
 */
export class MultiPoolAllocator {
  private readonly pools = new Map<string, Partial<Record<Family, BlockPool>>>();

  /** Creates or extends pool `name`; returns an error message if the spec cannot be applied. */
  upsertPool(name: string, spec: PoolSpec): string | undefined {
    const entry = this.pools.get(name) ?? {};
    try {
      for (const f of FAMILIES) {
        const s = spec[f];
        if (!s || s.cidrs.length === 0) continue;
        const existing = entry[f];
        if (existing && existing.maskSize !== s.maskSize) {
          return `CiliumPodIPPool ${name}: ${f}.maskSize cannot change from ${existing.maskSize} to ${s.maskSize}`;
        }
        if (existing) existing.addCidrs(s.cidrs);
        else entry[f] = new BlockPool(name, s.maskSize, s.cidrs);
      }
    } catch (err) {
      return `CiliumPodIPPool ${name}: ${(err as Error).message}`;
    }
    this.pools.set(name, entry);
    return undefined;
  }

  /** Whether pool `name` is known. */
  hasPool(name: string): boolean {
    return this.pools.has(name);
  }

  /** Records the blocks nodes already hold (oldest node first, so the older keeps a contested block). */
  seed(nodes: ReadonlyArray<{ name: string; created?: string; allocated: readonly PoolAllocation[] }>): void {
    const ordered = [...nodes].sort((a, b) => (a.created ?? '').localeCompare(b.created ?? '') || a.name.localeCompare(b.name));
    for (const n of ordered) {
      for (const a of n.allocated) for (const c of a.cidrs) this.familyPool(a.pool, c)?.occupy(c, n.name);
    }
  }

  /** Decides node `name`'s allocations given the addresses it needs per pool and what it has. */
  assign(name: string, needed: ReadonlyMap<string, number>, current: readonly PoolAllocation[]): PoolAssignment {
    const errors: string[] = [];
    const result: PoolAllocation[] = [];
    for (const a of current) {
      if (needed.has(a.pool)) continue;
      for (const c of a.cidrs) {
        const bp = this.familyPool(a.pool, c);
        if (bp?.ownerOf(c) === name) bp.release(c);
      }
    }
    for (const pool of [...needed.keys()].sort()) {
      const entry = this.pools.get(pool);
      if (!entry) {
        errors.push(`CiliumPodIPPool ${pool} does not exist`);
        continue;
      }
      const have = current.find((a) => a.pool === pool)?.cidrs ?? [];
      const cidrs: string[] = [];
      for (const f of FAMILIES) {
        const bp = entry[f];
        if (!bp) continue;
        const mine = have.filter((c) => bp.has(c) && bp.occupy(c, name) === 'ok');
        for (const b of bp.blocksOf(name)) if (!mine.includes(b)) mine.push(b);
        const want = Math.max(1, Math.ceil((needed.get(pool) ?? 0) / bp.stats().blockSize));
        while (mine.length < want) {
          const block = bp.allocate(name);
          if (block === undefined) {
            errors.push(exhaustedMessage(bp));
            break;
          }
          mine.push(block);
        }
        cidrs.push(...mine);
      }
      if (cidrs.length > 0) result.push({ pool, cidrs });
    }
    const changed = JSON.stringify(result) !== JSON.stringify([...current].sort((a, b) => a.pool.localeCompare(b.pool)));
    return { allocated: result, changed, errors };
  }

  /** Gives back every block node `name` holds in any pool. */
  release(name: string): void {
    for (const entry of this.pools.values()) for (const f of FAMILIES) entry[f]?.releaseOwner(name);
  }

  /** Per-pool capacity and use, for metrics. */
  stats(): Array<{ pool: string; family: Family; capacity: number; allocated: number; blockSize: number }> {
    const out: Array<{ pool: string; family: Family; capacity: number; allocated: number; blockSize: number }> = [];
    for (const [pool, entry] of this.pools) for (const f of FAMILIES) { const bp = entry[f]; if (bp) out.push({ pool, family: f, ...bp.stats() }); }
    return out;
  }

  private familyPool(pool: string, cidr: string): BlockPool | undefined {
    const entry = this.pools.get(pool);
    return entry ? FAMILIES.map((f) => entry[f]).find((bp) => bp?.has(cidr)) : undefined;
  }
}
