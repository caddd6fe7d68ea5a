// Errors from API calls and how to read their HTTP status.

/** An API call that returned a non-2xx status; `code` is the HTTP status. */
export class KubeApiError extends Error {
  /** HTTP status code (409 conflict, 410 gone, 404 not found, ...). */
  readonly code: number;
  /** Decoded response body (usually a v1 Status), if any. */
  readonly body: unknown;

  /** Creates an error for `code` with the server's `body`. */
  constructor(code: number, message: string, body: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.body = body;
  }
}

/** HTTP status of an error thrown by client-node or by {@link kubeRequest}, if it carries one. */
export function statusCodeOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}
