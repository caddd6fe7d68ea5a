/**
 * Cluster-wide identity allocation in CRD mode.
 *
 * Flow for a label set L:
 *   1. Reserved label sets (`reserved:host`, ...) map to their fixed number, nothing is stored.
 *   2. If a CiliumIdentity with labels L exists, use the lowest such number (and drop its GC
 *      heartbeat annotation, so the GC does not delete an identity that is in use again).
 *   3. Otherwise probe candidate numbers in a sequence derived from a hash of L: create the
 *      CiliumIdentity by name; on AlreadyExists read it: same labels means another node won the
 *      race for L, so use it; different labels means the slot is taken, so try the next candidate.
 *   4. After a successful create, list again and settle on the lowest number carrying L.
 *
 * Guarantees: a number is never given to two label sets (create by name is atomic on the
 * apiserver). Every node derives the same probe sequence for L, so concurrent allocators of L
 * meet on the same name; if a deletion in between makes them diverge, step 4 (and step 2 on
 * every later allocation) converges on the lowest number, and the GC collects the loser.
 */
import type { IdentityBackend } from './backend.ts';
import {
  type CiliumIdentityObject, HEARTBEAT_ANNOTATION, idOfCiliumIdentity, labelsOfCiliumIdentity, toCiliumIdentity,
} from './ciliumidentity.ts';
import type { LabelSet } from './labels.ts';
import { clusterIdentityRange } from './numeric.ts';
import { lookupReservedIdentity } from './reserved-labels.ts';

/** Options of {@link CrdIdentityAllocator}. */
export interface AllocatorOptions {
  /** ClusterMesh cluster id; selects the number range (default 0: 256..65535). */
  readonly clusterId?: number;
  /** Override the range (tests use small ranges to force collisions). */
  readonly range?: { min: number; max: number };
  /** How many candidates to try before giving up (default: the whole range). */
  readonly maxAttempts?: number;
}

/** Result of an allocation. */
export interface Allocation {
  readonly id: number;
  /** True when this call created the CiliumIdentity. */
  readonly isNew: boolean;
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Allocates cluster-wide identities through an {@link IdentityBackend}. */
export class CrdIdentityAllocator {
  readonly #backend: IdentityBackend;
  readonly #min: number;
  readonly #size: number;
  readonly #maxAttempts: number;

  constructor(backend: IdentityBackend, options: AllocatorOptions = {}) {
    this.#backend = backend;
    const range = options.range ?? clusterIdentityRange(options.clusterId ?? 0);
    this.#min = range.min;
    this.#size = range.max - range.min + 1;
    this.#maxAttempts = Math.min(options.maxAttempts ?? this.#size, this.#size);
  }

  /** The identity number for `labels`, creating the CiliumIdentity if needed. */
  async allocate(labels: LabelSet): Promise<Allocation> {
    const reserved = lookupReservedIdentity(labels);
    if (reserved !== undefined) return { id: reserved, isNew: false };
    for (let round = 0; round < 3; round++) {
      const existing = await this.#lowestWithLabels(labels);
      if (existing && (await this.#reuse(existing))) return { id: idOfCiliumIdentity(existing)!, isNew: false };
      const created = await this.#probe(labels);
      if (created === 'retry') continue;
      const lowest = await this.#lowestWithLabels(labels);
      const lowestId = lowest ? idOfCiliumIdentity(lowest)! : created.id;
      return lowestId === created.id ? created : { id: lowestId, isNew: false };
    }
    throw new Error(`identity allocation for [${labels.toStrings().join(', ')}] did not settle`);
  }

  /** The first candidate number for `labels` (exported for tests through the class). */
  firstCandidate(labels: LabelSet): number {
    return this.#min + (fnv1a(labels.canonical) % this.#size);
  }

  async #probe(labels: LabelSet): Promise<Allocation | 'retry'> {
    const start = this.firstCandidate(labels) - this.#min;
    for (let i = 0; i < this.#maxAttempts; i++) {
      const id = this.#min + ((start + i) % this.#size);
      const result = await this.#backend.create(toCiliumIdentity(id, labels));
      if (result.status === 'created') return { id, isNew: true };
      const other = await this.#backend.get(String(id));
      if (!other) return 'retry';
      if (labelsOfCiliumIdentity(other).equals(labels)) {
        return (await this.#reuse(other)) ? { id, isNew: false } : 'retry';
      }
    }
    throw new Error(`identity range ${this.#min}..${this.#min + this.#size - 1} exhausted`);
  }

  async #lowestWithLabels(labels: LabelSet): Promise<CiliumIdentityObject | undefined> {
    let best: CiliumIdentityObject | undefined;
    for (const obj of await this.#backend.list()) {
      const id = idOfCiliumIdentity(obj);
      if (id === undefined || !labelsOfCiliumIdentity(obj).equals(labels)) continue;
      if (!best || id < idOfCiliumIdentity(best)!) best = obj;
    }
    return best;
  }

  /** Clears the heartbeat annotation of an identity being reused; false if it vanished. */
  async #reuse(obj: CiliumIdentityObject): Promise<boolean> {
    let current: CiliumIdentityObject | undefined = obj;
    for (let attempt = 0; attempt < 5 && current; attempt++) {
      if (current.metadata.annotations?.[HEARTBEAT_ANNOTATION] === undefined) return true;
      const next = structuredClone(current);
      delete next.metadata.annotations![HEARTBEAT_ANNOTATION];
      const r = await this.#backend.replace(next);
      if (r.status === 'replaced') return true;
      if (r.status === 'not-found') return false;
      current = await this.#backend.get(obj.metadata.name);
    }
    return current !== undefined;
  }
}
