/**
 * Host-local IPAM: hands out addresses from the node's pod CIDRs and keeps the allocations in a
 * JSON file, so an agent restart keeps every pod's address. In each CIDR the network address,
 * the first address (kept for a future node router address) and the broadcast address are never
 * handed out.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { intToIp, parsePrefix, contains } from './ipv4.ts';

interface IpamFile {
  /** Address → owner (`containerId/ifName`). */
  allocations: Record<string, string>;
}

/** Thrown when every address of every pod CIDR is taken. */
export class IpamExhaustedError extends Error {}

/** A host-local allocator persisted at `path`. */
export class HostLocalIpam {
  private allocations: Map<string, string>;
  private next = 0;

  /** Loads the allocations stored at `path` (none if it does not exist). */
  constructor(private readonly path: string) {
    let loaded: IpamFile = { allocations: {} };
    try {
      loaded = JSON.parse(readFileSync(path, 'utf8')) as IpamFile;
    } catch {
      // first start
    }
    this.allocations = new Map(Object.entries(loaded.allocations ?? {}));
  }

  /** The address held by `owner`, if any. */
  addressOf(owner: string): string | undefined {
    for (const [ip, o] of this.allocations) if (o === owner) return ip;
    return undefined;
  }

  /** Every allocation, address → owner. */
  entries(): [string, string][] {
    return [...this.allocations];
  }

  /** How many addresses `cidrs` still have free. */
  free(cidrs: string[]): number {
    let total = 0;
    for (const c of cidrs) {
      const { bits } = parsePrefix(c);
      total += Math.max(0, 2 ** (32 - bits) - 3);
    }
    return total - [...this.allocations.keys()].filter((ip) => cidrs.some((c) => contains(c, ip))).length;
  }

  /** Allocates an address for `owner` from `cidrs` (or returns the one it already has), round-robin. */
  allocate(owner: string, cidrs: string[]): string {
    const held = this.addressOf(owner);
    if (held && cidrs.some((c) => contains(c, held))) return held;
    for (const cidr of cidrs) {
      const { base, bits } = parsePrefix(cidr);
      const size = 2 ** (32 - bits);
      if (size < 4) continue;
      for (let i = 0; i < size; i++) {
        const offset = ((this.next + i) % (size - 3)) + 2;
        const ip = intToIp(base + offset);
        if (!this.allocations.has(ip)) {
          this.next = offset - 1;
          this.allocations.set(ip, owner);
          this.save();
          return ip;
        }
      }
    }
    throw new IpamExhaustedError(`no free address in ${cidrs.join(', ') || '(no pod CIDR)'}`);
  }

  /** Releases whatever `owner` holds; releasing nothing is fine. */
  release(owner: string): string | undefined {
    const ip = this.addressOf(owner);
    if (ip) {
      this.allocations.delete(ip);
      this.save();
    }
    return ip;
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ allocations: Object.fromEntries(this.allocations) } satisfies IpamFile, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

