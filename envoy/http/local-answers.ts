/**
 * The answers the HTTP proxy writes itself: a denied request's 403, the 503 of an unreachable
 * upstream, the 400/431/408 that end a connection whose client cannot be understood or is too
 * slow, and the interim 100 Continue.
 */

/** Upstream's answer to a denied request. */
export const ACCESS_DENIED_BODY = 'Access denied\r\n';
/** The answer when the original destination cannot be reached (Envoy's words). */
export const UPSTREAM_FAILED_BODY = 'upstream connect error or disconnect/reset before headers\r\n';
/** The interim answer to `Expect: 100-continue`. */
export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 431: 'Request Header Fields Too Large', 503: 'Service Unavailable' };

/** A complete plain-text answer; `keepAlive` false: the connection closes after it. */
export function localAnswer(status: number, body: string, keepAlive: boolean): Buffer {
  const head = `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\n` + (body ? 'content-type: text/plain\r\n' : '')
    + `content-length: ${Buffer.byteLength(body)}\r\ndate: ${new Date().toUTCString()}\r\nconnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
  return Buffer.from(head + body, 'latin1');
}
