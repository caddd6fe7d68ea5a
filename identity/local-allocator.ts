/**
 * Node-local identities (CIDR, FQDN, CIDR group): numbers with the local scope bit, reference
 * counted, never shared with other nodes. A freed number is handed out again only once every
 * other number of the local range was used, so flow events and conntrack entries that still
 * carry it keep naming the prefix they were made for.
 */
import type { LabelSet } from './labels.ts';
import { MAX_LOCAL_IDENTITY, MIN_LOCAL_IDENTITY } from './numeric.ts';

interface LocalEntry {
  readonly id: number;
  readonly labels: LabelSet;
  refs: number;
}

/** Hands out node-local identities for label sets, counting references. */
export class LocalIdentityAllocator {
  readonly #byLabels = new Map<string, LocalEntry>();
  readonly #byId = new Map<number, LocalEntry>();
  /** Freed numbers, oldest first. */
  readonly #free = new Set<number>();
  #next = MIN_LOCAL_IDENTITY;

  /**
   * Returns the identity of `labels`, allocating one if needed, and takes a reference. `preferred`
   * (a number an earlier agent gave these labels, read back from the kernel) is used when it is a
   * free local number, so a restart keeps the numbers the kernel's maps already hold.
   */
  allocate(labels: LabelSet, preferred?: number): { id: number; isNew: boolean } {
    const existing = this.#byLabels.get(labels.canonical);
    if (existing) {
      existing.refs++;
      return { id: existing.id, isNew: false };
    }
    const id = this.#take(preferred);
    const entry: LocalEntry = { id, labels, refs: 1 };
    this.#byLabels.set(labels.canonical, entry);
    this.#byId.set(id, entry);
    return { id, isNew: true };
  }

  #take(preferred: number | undefined): number {
    if (preferred !== undefined && preferred >= MIN_LOCAL_IDENTITY && preferred <= MAX_LOCAL_IDENTITY && !this.#byId.has(preferred)) {
      this.#free.delete(preferred);
      // Numbers below a preferred one that were never handed out stay available to #next.
      if (preferred >= this.#next) {
        for (let n = this.#next; n < preferred && this.#free.size < 1_000_000; n++) this.#free.add(n);
        this.#next = preferred + 1;
      }
      return preferred;
    }
    while (this.#next <= MAX_LOCAL_IDENTITY) {
      const id = this.#next++;
      if (!this.#byId.has(id)) return id;
    }
    for (const id of this.#free) {
      this.#free.delete(id);
      if (!this.#byId.has(id)) return id;
    }
    throw new Error('local identity space exhausted');
  }

  /** Drops a reference; returns true when the identity was freed. */
  release(id: number): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    if (--entry.refs > 0) return false;
    this.#byId.delete(id);
    this.#byLabels.delete(entry.labels.canonical);
    this.#free.add(id);
    return true;
  }

  /** The labels of a local identity, if allocated. */
  lookup(id: number): LabelSet | undefined {
    return this.#byId.get(id)?.labels;
  }

  /** The identity allocated to `labels`, if any (takes no reference). */
  find(labels: LabelSet): number | undefined {
    return this.#byLabels.get(labels.canonical)?.id;
  }
}
