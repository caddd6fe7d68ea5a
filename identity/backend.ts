/**
 * The narrow interface the identity allocator and GC use to reach the apiserver, so the pure core
 * never imports a Kubernetes client. `k8s-identity-backend.ts` implements it over
 * CustomObjectsApi; `memory-identity-backend.ts` implements it in memory for tests.
 *
 * Contract: `create` is atomic by name (two creates of one name: exactly one wins, the other gets
 * `exists`); `replace` and `delete` with a resourceVersion succeed only if the stored object still
 * has it, else `conflict`.
 */
import type { CiliumIdentityObject } from './ciliumidentity.ts';

/** Outcome of {@link IdentityBackend.create}. */
export type CreateResult = { status: 'created'; object: CiliumIdentityObject } | { status: 'exists' };

/** Outcome of {@link IdentityBackend.replace}. */
export type ReplaceResult =
  | { status: 'replaced'; object: CiliumIdentityObject }
  | { status: 'conflict' }
  | { status: 'not-found' };

/** Outcome of {@link IdentityBackend.delete}. */
export type DeleteResult = 'deleted' | 'conflict' | 'not-found';

/** CRUD on CiliumIdentity objects (cilium.io/v2 ciliumidentities, cluster-scoped). */
export interface IdentityBackend {
  /** Creates `object` under `object.metadata.name`; `exists` if that name is taken. */
  create(object: CiliumIdentityObject): Promise<CreateResult>;
  /** The object named `name`, or undefined. */
  get(name: string): Promise<CiliumIdentityObject | undefined>;
  /** Every CiliumIdentity. */
  list(): Promise<CiliumIdentityObject[]>;
  /** Replaces the object, guarded by `object.metadata.resourceVersion`. */
  replace(object: CiliumIdentityObject): Promise<ReplaceResult>;
  /** Deletes `name`, guarded by `resourceVersion` when given. */
  delete(name: string, resourceVersion?: string): Promise<DeleteResult>;
}
