/**
 * Garbage collection of unused CiliumIdentities with upstream's heartbeat protocol (operator side):
 *   - an identity no endpoint uses and without annotation gets `io.cilium.heartbeat=<now>`;
 *   - on a later run, if it is still unused and the annotation is at least `heartbeatTimeoutMs`
 *     old, it is deleted with a resourceVersion precondition, so an agent that reused it in the
 *     meantime (and removed the annotation) wins; a conflict is retried on the next run;
 *   - an identity in use that still carries the annotation has it removed.
 */
import type { IdentityBackend } from './backend.ts';
import { type CiliumIdentityObject, HEARTBEAT_ANNOTATION, idOfCiliumIdentity } from './ciliumidentity.ts';

/** Options of {@link IdentityGarbageCollector}. */
export interface IdentityGcOptions {
  /** Identity numbers referenced by CiliumEndpoints / CiliumEndpointSlices right now. */
  readonly inUse: () => Promise<ReadonlySet<number>> | ReadonlySet<number>;
  /** Clock (injectable for tests). */
  readonly now?: () => Date;
  /** Minimum age of the heartbeat annotation before deletion (default 0: the next run). */
  readonly heartbeatTimeoutMs?: number;
}

/** What one GC run did. */
export interface GcRunResult {
  marked: number[];
  deleted: number[];
  unmarked: number[];
  conflicts: number[];
}

/** The operator-side identity GC. */
export class IdentityGarbageCollector {
  readonly #backend: IdentityBackend;
  readonly #opts: IdentityGcOptions;

  constructor(backend: IdentityBackend, options: IdentityGcOptions) {
    this.#backend = backend;
    this.#opts = options;
  }

  /** One pass over all identities. */
  async run(): Promise<GcRunResult> {
    const now = (this.#opts.now ?? (() => new Date()))();
    const inUse = await this.#opts.inUse();
    const result: GcRunResult = { marked: [], deleted: [], unmarked: [], conflicts: [] };
    for (const obj of await this.#backend.list()) {
      const id = idOfCiliumIdentity(obj);
      if (id === undefined) continue;
      const stamp = obj.metadata.annotations?.[HEARTBEAT_ANNOTATION];
      if (inUse.has(id)) {
        if (stamp !== undefined && (await this.#annotate(obj, undefined))) result.unmarked.push(id);
        continue;
      }
      if (stamp === undefined) {
        if (await this.#annotate(obj, now.toISOString())) result.marked.push(id);
        else result.conflicts.push(id);
        continue;
      }
      const age = now.getTime() - Date.parse(stamp);
      if (Number.isNaN(age) || age < (this.#opts.heartbeatTimeoutMs ?? 0)) continue;
      const r = await this.#backend.delete(obj.metadata.name, obj.metadata.resourceVersion);
      if (r === 'deleted') result.deleted.push(id);
      else if (r === 'conflict') result.conflicts.push(id);
    }
    return result;
  }

  async #annotate(obj: CiliumIdentityObject, value: string | undefined): Promise<boolean> {
    const next = structuredClone(obj);
    const annotations = { ...(next.metadata.annotations ?? {}) };
    if (value === undefined) delete annotations[HEARTBEAT_ANNOTATION];
    else annotations[HEARTBEAT_ANNOTATION] = value;
    next.metadata.annotations = annotations;
    return (await this.#backend.replace(next)).status === 'replaced';
  }
}
