// Adapting "reconcile this object" functions to the key-only Reconciler contract.
import type { CacheReader } from './informer.ts';
import { keyOf, type ReconcileContext, type Reconciler, type Request, type Result } from './reconcile.ts';

/** What to do for a key, given the cached object or its absence. */
export interface ObjectReconciler<T> {
  /** The object exists: converge the world to it. */
  apply(ctx: ReconcileContext, obj: T, req: Request): Promise<Result | void>;
  /** The object is gone (deleted): clean up anything derived from it. Default: nothing. */
  cleanup?(ctx: ReconcileContext, req: Request): Promise<Result | void>;
}

/**
 * A {@link Reconciler} that looks the key up in `cache` and calls `apply` with the object, or
 * `cleanup` when it is absent (level-based: a delete is just a missing object). The cache is
 * expected to be synced, which the Manager and Controller guarantee before reconciling.
 */
export function cachedReconciler<T>(cache: CacheReader<T>, handler: ObjectReconciler<T>): Reconciler {
  return {
    async reconcile(ctx, req) {
      const obj = cache.get(keyOf(req));
      const result = obj === undefined ? await handler.cleanup?.(ctx, req) : await handler.apply(ctx, obj, req);
      return result ?? {};
    },
  };
}

/**
 * A {@link Reconciler} that keeps a per-key derived value in step with `cache`: `set(key, value)`
 * with what `valueOf` derives from the object (undefined when it derives nothing or is gone).
 */
export function derivedValueReconciler<T, V>(cache: CacheReader<T>, valueOf: (obj: T) => V | undefined, set: (key: string, value: V | undefined) => void): Reconciler {
  return cachedReconciler(cache, {
    async apply(_ctx, obj, req) {
      set(keyOf(req), valueOf(obj));
    },
    async cleanup(_ctx, req) {
      set(keyOf(req), undefined);
    },
  });
}
