// cluster-pool IPAM: per-node pod CIDRs from the operator's configured CIDR lists.
import { BlockPool } from './block-pool.ts';
import { familyOf, type Family } from './cidr.ts';

/** The CIDR list and block size of one family. */
export interface FamilyPoolConfig {
  /** `cluster-pool-ipv4-cidr` / `cluster-pool-ipv6-cidr`. */
  readonly cidrs: readonly string[];
  /** `cluster-pool-ipv4-mask-size` / `cluster-pool-ipv6-mask-size`. */
  readonly maskSize: number;
}

/** A node as the allocator sees it: name, current podCIDRs and creation time (older wins conflicts). */
export interface NodeCidrs {
  readonly name: string;
  readonly podCIDRs: readonly string[];
  readonly created?: string;
}

/** What {@link ClusterPoolAllocator.assign} decided for one node. */
export interface Assignment {
  /** The podCIDRs the node should have. */
  readonly podCIDRs: string[];
  /** Whether they differ from the node's current list. */
  readonly changed: boolean;
  /** Newly allocated blocks. */
  readonly allocated: string[];
  /** Blocks given back to the pool. */
  readonly released: string[];
  /** Why a family could not be served (pool exhausted), if so. */
  readonly error?: string;
}

const FAMILIES: Family[] = ['ipv4', 'ipv6'];

/**
 * Hands each node one pod CIDR per configured family. State is only ever rebuilt from the
 * nodes themselves ({@link seed}), so a new leader knows exactly what its predecessor wrote.
 * A block seen on two nodes stays with the older node; the other is given a fresh block.
 */
export class ClusterPoolAllocator {
  /** The per-family pools. */
  readonly pools: Partial<Record<Family, BlockPool>> = {};

  /** Creates pools for the configured families. */
  constructor(config: Partial<Record<Family, FamilyPoolConfig>>) {
    for (const f of FAMILIES) {
      const c = config[f];
      if (c && c.cidrs.length > 0) this.pools[f] = new BlockPool(`cluster-pool-${f}`, c.maskSize, c.cidrs);
    }
  }

  /** Records the blocks the given nodes already hold, oldest node first. */
  seed(nodes: readonly NodeCidrs[]): void {
    const ordered = [...nodes].sort((a, b) => (a.created ?? '').localeCompare(b.created ?? '') || a.name.localeCompare(b.name));
    for (const n of ordered) {
      for (const c of n.podCIDRs) {
        const f = familyOf(c);
        if (f) this.pools[f]?.occupy(c, n.name);
      }
    }
  }

  /** Adds CIDRs to a family's list (a later entry is used once earlier ones are full). */
  addCidrs(family: Family, cidrs: readonly string[]): string[] {
    return this.pools[family]?.addCidrs(cidrs) ?? [];
  }

  /** Decides the podCIDRs of node `name`, given what it currently has. */
  assign(name: string, current: readonly string[]): Assignment {
    const allocated: string[] = [];
    const released: string[] = [];
    const errors: string[] = [];
    const byFamily = new Map<Family | undefined, string[]>();
    for (const c of current) {
      const f = familyOf(c);
      byFamily.set(f, [...(byFamily.get(f) ?? []), c]);
    }
    const result: string[] = [];
    for (const f of FAMILIES) {
      const pool = this.pools[f];
      const have = byFamily.get(f) ?? [];
      if (!pool) {
        result.push(...have);
        continue;
      }
      // A block held by another node (a conflict) is dropped; a block outside the pool is kept as is.
      const kept = have.filter((c) => typeof pool.occupy(c, name) === 'string');
      const held = pool.blocksOf(name).filter((b) => !kept.includes(b));
      if (kept.length === 0) {
        const reuse = held.shift();
        const block = reuse ?? pool.allocate(name);
        if (block === undefined) errors.push(exhaustedMessage(pool));
        else {
          kept.push(block);
          if (!reuse) allocated.push(block);
        }
      }
      for (const b of held) if (pool.release(b)) released.push(b);
      result.push(...kept);
    }
    result.push(...(byFamily.get(undefined) ?? []));
    const changed = result.length !== current.length || result.some((c, i) => c !== current[i]);
    return { podCIDRs: result, changed, allocated, released, ...(errors.length ? { error: errors.join('; ') } : {}) };
  }

  /** Gives every block of node `name` back; returns them. */
  release(name: string): string[] {
    return FAMILIES.flatMap((f) => this.pools[f]?.releaseOwner(name) ?? []);
  }
}

/** The operator-status error for an exhausted pool, naming the setting to extend. */
export function exhaustedMessage(pool: BlockPool): string {
  const setting = pool.name.startsWith('cluster-pool-') ? `cluster-pool-${pool.family}-cidr` : `CiliumPodIPPool ${pool.name}`;
  return `unable to allocate ${pool.family} pod CIDR: all /${pool.maskSize} blocks of ${pool.cidrs().join(',')} are in use; add a CIDR to ${setting}`;
}
