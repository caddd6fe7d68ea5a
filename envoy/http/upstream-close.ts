/**
 * How the HTTP proxy closes an upstream connection it no longer needs: upstream's
 * `envoy-http-upstream-linger-timeout`. The proxy's upstream connections use the client's own
 * address and port, so a TIME_WAIT the proxy leaves on one is on that address and port in the node
 * for a minute (the next connection from the port takes it over only if the old one had TCP
 * timestamps; otherwise it fails, 503). The setting says who may hold that TIME_WAIT:
 * - `-1` (the default): the proxy closes with a FIN, in the background (a finished connection is
 *   given 2 s for the server to close first; one whose client vanished is closed at once);
 * - `0`: the proxy resets the connection as soon as its client connection is done (SO_LINGER 0):
 *   no TIME_WAIT on the proxy's side;
 * - `N > 0`: the server is given up to N seconds to close first (its TIME_WAIT then), after which
 *   the proxy resets the connection rather than sending a FIN.
 * Upstream's N is a linger time on the socket (a close waits up to N s for unsent data); here
 * nothing is unsent when the proxy lets go of a connection, so N is the server's time to close.
 */
import type net from 'node:net';
import { ConfigError } from '../../runtime/settings.ts';

/** The cilium-config key. */
export const UPSTREAM_LINGER_SETTING = 'envoy-http-upstream-linger-timeout';
/** The proxy process's flag for it. */
export const UPSTREAM_LINGER_FLAG = 'http-upstream-linger-timeout';
/** Upstream's default: close in the background. */
export const DEFAULT_UPSTREAM_LINGER = -1;
/** The longest linger: what a Node timer holds, in seconds. */
const MAX_LINGER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** How long a finished upstream connection is given to close first with `-1`. */
const BACKGROUND_CLOSE_MS = 2000;

/** Parses the linger timeout: -1 or whole seconds up to a Node timer's limit; errors name `setting`. */
export function parseUpstreamLinger(setting: string, text: string): number {
  const t = text.trim();
  const n = /^-?\d+$/.test(t) ? Number(t) : NaN;
  if (n >= -1 && n <= MAX_LINGER_SECONDS) return n;
  throw new ConfigError(setting, `"${text}" is not -1 (close in the background), 0 (reset at once) or seconds up to ${MAX_LINGER_SECONDS} (wait for the server to close, then reset)`);
}

/** Closes upstream connections the proxy is done with, per the linger timeout. */
export interface UpstreamCloser {
  /** The client connection ended normally (its last answer relayed, or the client sent its last byte). */
  finished(up: net.Socket): void;
  /** The client connection is gone (reset, failed, timed out) while the upstream connection was still in use. */
  abandoned(up: net.Socket): void;
}

/** Resets a connection (RST, no TIME_WAIT), or destroys one that is already closing. */
function reset(up: net.Socket): void {
  if (up.destroyed) return;
  try {
    up.resetAndDestroy();
  } catch {
    up.destroy();
  }
}

/** Gives the server `ms` to close first (its FIN ends the connection at once), then `close`s it. */
function awaitServerClose(up: net.Socket, ms: number, close: (up: net.Socket) => void): void {
  up.removeAllListeners('timeout');
  up.setTimeout(ms, () => close(up));
  // Paused while its client was slow: read on (nothing more is relayed) so the server's FIN is seen.
  up.resume();
  up.once('end', () => up.destroy());
}

/** The closer for a linger timeout in seconds (see the module's comment). */
export function upstreamCloser(lingerSeconds: number): UpstreamCloser {
  if (lingerSeconds < 0) {
    return { finished: (up) => awaitServerClose(up, BACKGROUND_CLOSE_MS, (s) => s.destroy()), abandoned: (up) => up.destroy() };
  }
  if (lingerSeconds === 0) return { finished: reset, abandoned: reset };
  const linger = (up: net.Socket) => awaitServerClose(up, lingerSeconds * 1000, reset);
  return { finished: linger, abandoned: linger };
}
