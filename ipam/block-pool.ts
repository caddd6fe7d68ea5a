// A named pool of equal-size blocks drawn from several CIDRs, remembering who holds each block.
import { formatPrefix, overlaps, parsePrefix, type Family } from './cidr.ts';
import { CidrSet } from './cidr-set.ts';

/** Result of {@link BlockPool.occupy}. */
export type OccupyResult = 'ok' | 'foreign' | { conflict: string };

/**
 * Blocks of one family and one mask size carved from a list of CIDRs, in list order (a CIDR
 * added later is used once the earlier ones are full). Each taken block has an owner (a node
 * name), so a node's blocks can be listed and released together.
 */
export class BlockPool {
  /** Address family of every CIDR in the pool. */
  readonly family: Family;
  private readonly sets: CidrSet[] = [];
  private readonly owners = new Map<string, string>();

  /** Creates a pool; throws (naming the CIDR) if a CIDR is invalid, of another family or overlapping. */
  constructor(
    readonly name: string,
    readonly maskSize: number,
    cidrs: readonly string[],
  ) {
    const first = cidrs[0];
    if (first === undefined) throw new Error(`pool ${name}: no CIDRs`);
    this.family = parsePrefix(first).family;
    this.addCidrs(cidrs);
  }

  /** Adds the CIDRs not already in the pool; returns the ones added. Throws on a bad CIDR. */
  addCidrs(cidrs: readonly string[]): string[] {
    const added: string[] = [];
    for (const cidr of cidrs) {
      const p = parsePrefix(cidr);
      if (p.family !== this.family) throw new Error(`pool ${this.name}: ${cidr} is not ${this.family}`);
      const same = this.sets.find((s) => s.cidr.base === p.base && s.cidr.bits === p.bits);
      if (same) continue;
      const clash = this.sets.find((s) => overlaps(s.cidr, p));
      if (clash) throw new Error(`pool ${this.name}: ${cidr} overlaps another CIDR of the pool`);
      this.sets.push(new CidrSet(cidr, this.maskSize));
      added.push(cidr);
    }
    return added;
  }

  /** Whether `block` is a block of this pool (taken or not). */
  has(block: string): boolean {
    return this.sets.some((s) => s.has(block));
  }

  /** Owner of `block`, if taken. */
  ownerOf(block: string): string | undefined {
    return this.owners.get(block);
  }

  /** Blocks held by `owner`, in allocation order. */
  blocksOf(owner: string): string[] {
    return [...this.owners].filter(([, o]) => o === owner).map(([b]) => b);
  }

  /** Every owner holding at least one block. */
  ownersList(): string[] {
    return [...new Set(this.owners.values())];
  }

  /** Gives `owner` a free block (from the first CIDR with room), or undefined when exhausted. */
  allocate(owner: string): string | undefined {
    for (const s of this.sets) {
      const block = s.allocate();
      if (block !== undefined) {
        this.owners.set(block, owner);
        return block;
      }
    }
    return undefined;
  }

  /** Records that `owner` holds `block`: ok, foreign (not a block of this pool) or a conflict with its holder. */
  occupy(block: string, owner: string): OccupyResult {
    const set = this.sets.find((s) => s.has(block));
    if (!set) return 'foreign';
    const holder = this.owners.get(block);
    if (holder !== undefined) return holder === owner ? 'ok' : { conflict: holder };
    set.occupy(block);
    this.owners.set(block, owner);
    return 'ok';
  }

  /** Frees `block`; false if it was not taken. */
  release(block: string): boolean {
    if (!this.owners.delete(block)) return false;
    this.sets.find((s) => s.has(block))?.release(block);
    return true;
  }

  /** Frees every block of `owner`; returns them. */
  releaseOwner(owner: string): string[] {
    const blocks = this.blocksOf(owner);
    for (const b of blocks) this.release(b);
    return blocks;
  }

  /** Whether no block is free. */
  exhausted(): boolean {
    return this.sets.every((s) => s.exhausted());
  }

  /** Total and taken block counts, and the address count of one block. */
  stats(): { capacity: number; allocated: number; blockSize: number } {
    const width = this.family === 'ipv4' ? 32 : 128;
    return {
      capacity: this.sets.reduce((n, s) => n + s.capacity, 0),
      allocated: this.owners.size,
      blockSize: 2 ** Math.min(52, width - this.maskSize),
    };
  }

  /** The pool's CIDRs as text, in order. */
  cidrs(): string[] {
    return this.sets.map((s) => formatPrefix(s.cidr));
  }
}
