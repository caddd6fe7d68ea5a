/**
 * An in-memory {@link IdentityBackend} with apiserver semantics (atomic create by name,
 * resourceVersion preconditions). Hooks let tests inject interleavings between allocators.
 */
import type { CreateResult, DeleteResult, IdentityBackend, ReplaceResult } from './backend.ts';
import type { CiliumIdentityObject } from './ciliumidentity.ts';

/** Test hooks run before each operation (await them to interleave other allocators). */
export interface MemoryBackendHooks {
  beforeCreate?: (name: string) => Promise<void> | void;
  beforeList?: () => Promise<void> | void;
}

/** In-memory CiliumIdentity store. */
export class MemoryIdentityBackend implements IdentityBackend {
  readonly #objects = new Map<string, CiliumIdentityObject>();
  #version = 0;
  /** Counters of calls, for tests. */
  readonly calls = { create: 0, exists: 0, list: 0, replace: 0, delete: 0 };

  constructor(readonly hooks: MemoryBackendHooks = {}) {}

  async create(object: CiliumIdentityObject): Promise<CreateResult> {
    this.calls.create++;
    await this.hooks.beforeCreate?.(object.metadata.name);
    if (this.#objects.has(object.metadata.name)) {
      this.calls.exists++;
      return { status: 'exists' };
    }
    const stored = this.#stamp(object);
    this.#objects.set(object.metadata.name, stored);
    return { status: 'created', object: structuredClone(stored) };
  }

  async get(name: string): Promise<CiliumIdentityObject | undefined> {
    const o = this.#objects.get(name);
    return o && structuredClone(o);
  }

  async list(): Promise<CiliumIdentityObject[]> {
    this.calls.list++;
    await this.hooks.beforeList?.();
    return [...this.#objects.values()].map((o) => structuredClone(o));
  }

  async replace(object: CiliumIdentityObject): Promise<ReplaceResult> {
    this.calls.replace++;
    const cur = this.#objects.get(object.metadata.name);
    if (!cur) return { status: 'not-found' };
    if (object.metadata.resourceVersion !== cur.metadata.resourceVersion) return { status: 'conflict' };
    const stored = this.#stamp(object);
    this.#objects.set(object.metadata.name, stored);
    return { status: 'replaced', object: structuredClone(stored) };
  }

  async delete(name: string, resourceVersion?: string): Promise<DeleteResult> {
    this.calls.delete++;
    const cur = this.#objects.get(name);
    if (!cur) return 'not-found';
    if (resourceVersion !== undefined && resourceVersion !== cur.metadata.resourceVersion) return 'conflict';
    this.#objects.delete(name);
    return 'deleted';
  }

  #stamp(object: CiliumIdentityObject): CiliumIdentityObject {
    const copy = structuredClone(object);
    copy.metadata.resourceVersion = String(++this.#version);
    return copy;
  }
}
