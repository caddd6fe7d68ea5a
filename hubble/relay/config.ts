/**
 * The Hubble Relay's settings, with upstream's names and defaults: read from its config file
 * (`/etc/hubble-relay/config.yaml`, a mounted `hubble-relay-config` ConfigMap), then from
 * `hubble-relay serve` flags, which win. Errors name the setting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseBool, parseDuration, parseFlags, parseInteger, parseListenAddress } from '../../runtime/settings.ts';

/** Where upstream's relay reads its settings from. */
export const RELAY_CONFIG_FILE = '/etc/hubble-relay/config.yaml';

/** The version the relay reports (ServerStatus, `hubble-relay version`). */
export const RELAY_VERSION = 'ciliate-relay-0.1.0';

/** Upstream's defaults, by setting name. */
export const RELAY_DEFAULTS = {
  'cluster-name': 'default',
  'peer-service': 'unix:///var/run/cilium/hubble.sock',
  'listen-address': ':4245',
  'health-listen-address': ':4222',
  'retry-timeout': '30s',
  'sort-buffer-len-max': '100',
  'sort-buffer-drain-timeout': '1s',
  'disable-client-tls': 'false',
  'disable-server-tls': 'false',
  debug: 'false',
} as const;

/**
 * Settings upstream has that the relay accepts and ignores (profiling, metrics, log format): a
 * values file or ConfigMap written for upstream keeps working.
 */
const IGNORED = ['gops', 'gops-port', 'pprof', 'pprof-address', 'pprof-port', 'pprof-mutex-profile-fraction', 'pprof-block-profile-rate',
  'metrics-listen-address', 'log-format', 'log-level'];

/** TLS settings: refused, since Ciliate's Hubble speaks plaintext gRPC only. */
const TLS_FILES = ['tls-hubble-client-cert-file', 'tls-hubble-client-key-file', 'tls-hubble-server-ca-files', 'tls-client-cert-file',
  'tls-client-key-file', 'tls-relay-server-cert-file', 'tls-relay-server-key-file', 'tls-relay-client-ca-files', 'tls-server-cert-file', 'tls-server-key-file'];

/** The relay's typed settings. */
export interface RelayConfig {
  clusterName: string;
  /** gRPC target of a peer.Peer service (`host:port`, `unix:///path`). */
  peerService: string;
  /** `host:port` the Observer API listens on (empty host: every address). */
  listenAddress: string;
  /** `host:port` of the separate health listener; empty: none. */
  healthListenAddress: string;
  retryTimeoutMs: number;
  sortBufferLenMax: number;
  sortBufferDrainTimeoutMs: number;
  debug: boolean;
}

/** Whether `name` is a setting the relay knows. */
function known(name: string): boolean {
  return name in RELAY_DEFAULTS || IGNORED.includes(name) || TLS_FILES.includes(name);
}

/** The config file's settings as strings; none when it does not exist. */
export function readRelayConfigFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError('config-file', `${path}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config-file', `${path} is not a map of settings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) out[k] = Array.isArray(v) ? v.join(',') : String(v);
  return out;
}

/** Turns raw settings (file, then flags over it) into the relay's configuration. */
export function relayConfig(file: Record<string, string>, argv: readonly string[]): RelayConfig {
  const raw: Record<string, string> = { ...RELAY_DEFAULTS, ...file, ...parseFlags(argv, known) };
  for (const name of Object.keys(file)) if (!known(name)) throw new ConfigError(name, 'unknown setting in the config file');
  for (const name of TLS_FILES) {
    if (raw[name]) throw new ConfigError(name, 'TLS is not supported: Ciliate\'s Hubble serves plaintext gRPC (set disable-client-tls and disable-server-tls)');
  }
  const listen = (name: string) => {
    const v = raw[name]!.trim();
    if (v !== '') parseListenAddress(name, v);
    return v;
  };
  const listenAddress = listen('listen-address');
  if (listenAddress === '') throw new ConfigError('listen-address', 'must not be empty');
  if (raw['peer-service']!.trim() === '') throw new ConfigError('peer-service', 'must not be empty');
  parseBool('disable-client-tls', raw['disable-client-tls']!);
  parseBool('disable-server-tls', raw['disable-server-tls']!);
  return {
    clusterName: raw['cluster-name']!,
    peerService: raw['peer-service']!.trim(),
    listenAddress,
    healthListenAddress: listen('health-listen-address'),
    retryTimeoutMs: positive('retry-timeout', parseDuration('retry-timeout', raw['retry-timeout']!)),
    sortBufferLenMax: parseInteger('sort-buffer-len-max', raw['sort-buffer-len-max']!, 1, 1_000_000),
    sortBufferDrainTimeoutMs: positive('sort-buffer-drain-timeout', parseDuration('sort-buffer-drain-timeout', raw['sort-buffer-drain-timeout']!)),
    debug: parseBool('debug', raw.debug!),
  };
}

function positive(setting: string, ms: number): number {
  if (ms <= 0) throw new ConfigError(setting, 'must be more than 0');
  return ms;
}

/** A listen address as a gRPC bind target: an empty host binds every address. */
export function bindTarget(address: string): string {
  return address.startsWith(':') ? `0.0.0.0${address}` : address;
}
