// Object writes the reconcilers need, over the runtime's raw requester: create, JSON patch, guarded delete, quorum list.
import { PatchStrategy } from '@kubernetes/client-node';
import type { KubeRequester } from '../runtime/kube.ts';
import { resourcePath, statusCodeOf, type JsonPatchOp, type Request, type ResourceRef } from '../runtime/index.ts';

/** The object operations used by the operator's reconcilers. */
export interface ObjectApi {
  /** Creates `body`; resolves false if it already exists. */
  create(ref: ResourceRef, body: { metadata?: { namespace?: string } }): Promise<boolean>;
  /** Applies a JSON Patch to the object (not its status). */
  jsonPatch(ref: ResourceRef, req: Request, ops: JsonPatchOp[]): Promise<unknown>;
  /**
   * Deletes the object if it still has `preconditions` (uid and/or resourceVersion); resolves
   * false if it was already gone. A changed object rejects with 409.
   */
  delete(ref: ResourceRef, req: Request, preconditions?: { uid?: string; resourceVersion?: string }): Promise<boolean>;
  /** Reads one object, or undefined if absent. */
  get<T>(ref: ResourceRef, req: Request): Promise<T | undefined>;
  /** Lists every object straight from the API server (a quorum read, not a cache). */
  list<T>(ref: ResourceRef): Promise<T[]>;
}

/** An {@link ObjectApi} over `request`. */
export function objectApi(request: KubeRequester): ObjectApi {
  const notFoundIs = async <T>(p: Promise<T>, value: T): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (statusCodeOf(err) === 404) return value;
      throw err;
    }
  };
  return {
    async create(ref, body) {
      try {
        await request({ method: 'POST', path: resourcePath(ref, body.metadata?.namespace), body });
        return true;
      } catch (err) {
        if (statusCodeOf(err) === 409) return false;
        throw err;
      }
    },
    jsonPatch: (ref, req, ops) =>
      request({ method: 'PATCH', path: resourcePath(ref, req.namespace, req.name), body: ops, contentType: PatchStrategy.JsonPatch }),
    delete: (ref, req, preconditions) =>
      notFoundIs(
        request({
          method: 'DELETE',
          path: resourcePath(ref, req.namespace, req.name),
          body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(preconditions ? { preconditions } : {}) },
        }).then(() => true),
        false,
      ),
    get: <T>(ref: ResourceRef, req: Request) =>
      notFoundIs(request({ method: 'GET', path: resourcePath(ref, req.namespace, req.name) }) as Promise<T | undefined>, undefined),
    async list<T>(ref: ResourceRef) {
      const items: T[] = [];
      let cont: string | undefined;
      do {
        const page = (await request({ method: 'GET', path: resourcePath(ref), query: { limit: 500, continue: cont } })) as {
          items?: T[];
          metadata?: { continue?: string };
        };
        items.push(...(page.items ?? []));
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return items;
    },
  };
}

/** Whether `err` is an optimistic-concurrency failure (409 conflict, or 422 from a failed JSON Patch test). */
export function isConflict(err: unknown): boolean {
  const code = statusCodeOf(err);
  return code === 409 || code === 422;
}

/** Calls `fn` until it succeeds, waiting `delayMs` (doubling, at most 30 s) between failures; undefined if `signal` aborts first. */
export async function retrying<T>(fn: () => Promise<T>, signal: AbortSignal, onError: (err: unknown) => void, delayMs = 500): Promise<T | undefined> {
  for (let delay = delayMs; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
    try {
      return await fn();
    } catch (err) {
      onError(err);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
  return undefined;
}
