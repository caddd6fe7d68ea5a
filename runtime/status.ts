// Writing the /status subresource with an RFC 6902 JSON Patch or an RFC 7396 merge patch.
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import type { Request } from './reconcile.ts';

export { findCondition, removeCondition, setCondition, type Condition, type ConditionUpdate } from './conditions.ts';

/** A JSON Patch operation (RFC 6902). */
export type JsonPatchOp = Operation;

/**
 * JSON Patch turning `before.status` into `after.status`, paths rooted at `/status`.
 * With `guardResourceVersion`, a leading `test` op on metadata.resourceVersion makes the
 * patch fail (HTTP 422) if the object changed since `before` was read: optimistic concurrency.
 */
export function statusJsonPatch(
  before: { status?: unknown; metadata?: { resourceVersion?: string } },
  after: { status?: unknown },
  opts: { guardResourceVersion?: boolean } = {},
): JsonPatchOp[] {
  const ops = fastJsonPatch.compare({ status: before.status ?? null }, { status: after.status ?? null });
  if (before.status === undefined && after.status !== undefined) {
    // The server may have no status at all; `add` works whether or not it exists.
    return withGuard([{ op: 'add', path: '/status', value: after.status }], before, opts);
  }
  return ops.length === 0 ? [] : withGuard(ops, before, opts);
}

function withGuard(
  ops: JsonPatchOp[],
  before: { metadata?: { resourceVersion?: string } },
  opts: { guardResourceVersion?: boolean },
): JsonPatchOp[] {
  const rv = before.metadata?.resourceVersion;
  if (!opts.guardResourceVersion || !rv) return ops;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, ...ops];
}

/** Writes the status subresource of objects of one resource. */
export interface StatusWriter {
  /** Applies a JSON Patch (paths rooted at the object, e.g. `/status/conditions`). Returns the object. */
  jsonPatch(req: Request, ops: JsonPatchOp[]): Promise<unknown>;
  /** Applies a merge patch such as `{ status: { phase: 'Ready' } }`. Returns the object. */
  mergePatch(req: Request, patch: Record<string, unknown>): Promise<unknown>;
}
