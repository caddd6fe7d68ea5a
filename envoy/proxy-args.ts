/**
 * The HTTP proxy process's command line (envoy/proxy-main.ts): what the agent's supervisor and the
 * chart's cilium-envoy DaemonSet pass, and how the proxy reads it. Errors name the flag.
 */
import { ConfigError, parseBool, parseFlags } from '../runtime/settings.ts';
import { DEFAULT_UPSTREAM_LINGER, parseUpstreamLinger, UPSTREAM_LINGER_FLAG } from './http/upstream-close.ts';

/** The proxy's settings. */
export interface HttpProxyArgs {
  /** `--socket-path`: where the agent connects (policy in, flows out). */
  readonly socketPath: string;
  /** `--pin-root`: the agent's bpffs folder (its pinned ipcache). */
  readonly pinRoot: string;
  readonly debug: boolean;
  /** `--http-upstream-linger-timeout` (cilium-config's `envoy-http-upstream-linger-timeout`), seconds. */
  readonly upstreamLingerSeconds: number;
}

const FLAGS = ['socket-path', 'pin-root', 'debug', UPSTREAM_LINGER_FLAG];

/** Reads the proxy's flags; throws a {@link ConfigError} naming a missing, unknown or invalid flag. */
export function parseHttpProxyArgs(argv: readonly string[]): HttpProxyArgs {
  const flags = parseFlags(argv, (n) => FLAGS.includes(n));
  for (const required of ['socket-path', 'pin-root']) if (!flags[required]) throw new ConfigError(required, 'required');
  const linger = flags[UPSTREAM_LINGER_FLAG];
  return {
    socketPath: flags['socket-path']!,
    pinRoot: flags['pin-root']!,
    debug: parseBool('debug', flags.debug ?? 'false'),
    upstreamLingerSeconds: linger === undefined ? DEFAULT_UPSTREAM_LINGER : parseUpstreamLinger(UPSTREAM_LINGER_FLAG, linger),
  };
}

/** The flags the agent starts the proxy with. */
export function httpProxyFlags(a: HttpProxyArgs): string[] {
  return [`--socket-path=${a.socketPath}`, `--pin-root=${a.pinRoot}`, `--${UPSTREAM_LINGER_FLAG}=${a.upstreamLingerSeconds}`, ...(a.debug ? ['--debug=true'] : [])];
}
