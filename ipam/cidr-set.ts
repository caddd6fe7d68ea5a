// Allocating fixed-size blocks from one prefix: a bitmap over its sub-prefixes.
import { contains, formatPrefix, parsePrefix, type Prefix } from './cidr.ts';

/** Largest number of blocks one set will track (a bitmap of this many bits is kept). */
export const MAX_BLOCKS = 1 << 24;

/**
 * The blocks of length `maskSize` inside one CIDR. `allocate` hands out the next free block
 * after the last one handed out (next-fit, so a just-released block is not reused at once),
 * `occupy` marks a given block as taken (used when rebuilding state from the cluster),
 * `release` frees one, `exhausted` says whether none is left.
 */
export class CidrSet {
  /** The prefix blocks are carved from. */
  readonly cidr: Prefix;
  /** Length of each block. */
  readonly maskSize: number;
  /** Total number of blocks. */
  readonly capacity: number;
  private readonly used: Uint8Array;
  private count = 0;
  private next = 0;

  /** Creates an empty set; throws if `maskSize` is shorter than the CIDR or the set is too large. */
  constructor(cidr: string, maskSize: number) {
    this.cidr = parsePrefix(cidr);
    const width = this.cidr.family === 'ipv4' ? 32 : 128;
    if (!Number.isInteger(maskSize) || maskSize < this.cidr.bits || maskSize > width) {
      throw new Error(`mask size ${maskSize} does not fit in ${cidr}`);
    }
    const blocks = 2 ** (maskSize - this.cidr.bits);
    if (blocks > MAX_BLOCKS) throw new Error(`${cidr} split into /${maskSize} gives ${blocks} blocks, more than ${MAX_BLOCKS}`);
    this.maskSize = maskSize;
    this.capacity = blocks;
    this.used = new Uint8Array(blocks);
  }

  /** Number of blocks handed out. */
  get allocated(): number {
    return this.count;
  }

  /** Whether no free block remains. */
  exhausted(): boolean {
    return this.count >= this.capacity;
  }

  /** Hands out the next free block (lowest after the last one given, wrapping), or undefined. */
  allocate(): string | undefined {
    if (this.exhausted()) return undefined;
    for (let i = 0; i < this.capacity; i++) {
      const idx = (this.next + i) % this.capacity;
      if (!this.used[idx]) {
        this.mark(idx, true);
        this.next = (idx + 1) % this.capacity;
        return this.format(idx);
      }
    }
    return undefined;
  }

  /** Marks `block` taken; false if it is not a block of this set or already taken. */
  occupy(block: string): boolean {
    const idx = this.indexOf(block);
    if (idx === undefined || this.used[idx]) return false;
    this.mark(idx, true);
    return true;
  }

  /** Frees `block`; false if it was not a taken block of this set. */
  release(block: string): boolean {
    const idx = this.indexOf(block);
    if (idx === undefined || !this.used[idx]) return false;
    this.mark(idx, false);
    return true;
  }

  /** Whether `block` is a block (right length, inside the CIDR) of this set. */
  has(block: string): boolean {
    return this.indexOf(block) !== undefined;
  }

  /** Whether `block` is a taken block of this set. */
  isTaken(block: string): boolean {
    const idx = this.indexOf(block);
    return idx !== undefined && this.used[idx] === 1;
  }

  private mark(idx: number, taken: boolean): void {
    this.used[idx] = taken ? 1 : 0;
    this.count += taken ? 1 : -1;
  }

  private indexOf(block: string): number | undefined {
    let p: Prefix;
    try {
      p = parsePrefix(block);
    } catch {
      return undefined;
    }
    if (p.bits !== this.maskSize || !contains(this.cidr, p)) return undefined;
    return Number((p.base - this.cidr.base) >> BigInt((this.cidr.family === 'ipv4' ? 32 : 128) - this.maskSize));
  }

  private format(idx: number): string {
    const shift = BigInt((this.cidr.family === 'ipv4' ? 32 : 128) - this.maskSize);
    return formatPrefix({ family: this.cidr.family, bits: this.maskSize, base: this.cidr.base + (BigInt(idx) << shift) });
  }
}
