/**
 * Node-local identities (CIDR, FQDN, CIDR group): numbers with the local scope bit, reference
 * counted, never shared with other nodes.
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
  readonly #free: number[] = [];
  #next = MIN_LOCAL_IDENTITY;

  /** Returns the identity of `labels`, allocating one if needed, and takes a reference. */
  allocate(labels: LabelSet): { id: number; isNew: boolean } {
    const existing = this.#byLabels.get(labels.canonical);
    if (existing) {
      existing.refs++;
      return { id: existing.id, isNew: false };
    }
    const id = this.#free.pop() ?? this.#next++;
    if (id > MAX_LOCAL_IDENTITY) throw new Error('local identity space exhausted');
    const entry: LocalEntry = { id, labels, refs: 1 };
    this.#byLabels.set(labels.canonical, entry);
    this.#byId.set(id, entry);
    return { id, isNew: true };
  }

  /** Drops a reference; returns true when the identity was freed. */
  release(id: number): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    if (--entry.refs > 0) return false;
    this.#byId.delete(id);
    this.#byLabels.delete(entry.labels.canonical);
    this.#free.push(id);
    return true;
  }

  /** The labels of a local identity, if allocated. */
  lookup(id: number): LabelSet | undefined {
    return this.#byId.get(id)?.labels;
  }
}
