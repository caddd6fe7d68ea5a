// The reconciler contract: key-only requests, a result, and terminal versus retryable errors.
import type { Logger } from './logger.ts';

/**
 * What to reconcile: only the object's key. Reconciliation is level-based, so a deletion is
 * observed as the object being absent from the cache, never as an event.
 */
export interface Request {
  /** Namespace, absent for cluster-scoped objects. */
  readonly namespace?: string;
  /** Object name. */
  readonly name: string;
}

/** Per-call context handed to {@link Reconciler.reconcile}. */
export interface ReconcileContext {
  /** Aborted when the controller is stopping; pass it to API calls. */
  readonly signal: AbortSignal;
  /** Logger carrying the controller name, the key and the reconcile id. */
  readonly log: Logger;
  /** Unique id of this reconcile call, also present in every log line of `log`. */
  readonly reconcileId: string;
}

/**
 * Outcome of a successful reconcile. `requeueAfterMs` asks for another pass later (polling);
 * there is deliberately no `requeue: true` because backoff is reserved for errors.
 */
export interface Result {
  /** Reconcile this key again after this many milliseconds. */
  readonly requeueAfterMs?: number;
}

/** Brings the world in line with the desired state of one object. Must be idempotent. */
export interface Reconciler<R = Request> {
  /** Reconciles `req`; throw to retry with backoff, throw a {@link TerminalError} to give up. */
  reconcile(ctx: ReconcileContext, req: R): Promise<Result>;
}

/**
 * An error that retrying cannot fix (invalid spec, unsupported feature). The controller logs
 * and counts it but does not requeue the key; a later change to the object triggers it again.
 */
export class TerminalError extends Error {
  /** Marker checked by {@link isTerminal}, robust across module copies. */
  readonly terminal = true;

  /** Wraps `cause` (if given) as a terminal error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** Whether `err` is (or wraps, via `cause`) a {@link TerminalError}. */
export function isTerminal(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 10; depth++) {
    if ((e as { terminal?: unknown }).terminal === true) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Cache/queue key of a request: `namespace/name`, or `name` when cluster-scoped. */
export function keyOf(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

/** Inverse of {@link keyOf}. */
export function requestOf(key: string): Request {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
