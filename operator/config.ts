// ciliate-operator configuration: upstream-named settings from flags, CILIUM_* env and a config directory.
import { hostname } from 'node:os';
import { overlaps, parsePrefix, type Family, type Prefix } from '../ipam/cidr.ts';
import { MAX_BLOCKS } from '../ipam/cidr-set.ts';
import {
  ConfigError, parseBool, parseDuration, parseFlags, parseInteger, parseList, parseListenAddress, readSettingsDir, settingsFromEnv,
} from '../runtime/settings.ts';

export { ConfigError } from '../runtime/settings.ts';

/** IPAM modes this operator implements. */
export type IpamMode = 'cluster-pool' | 'multi-pool';

/** The operator's parsed configuration. */
export interface OperatorConfig {
  /** `ipam`. */
  ipam: IpamMode;
  /** `enable-ipv4` / `enable-ipv6`. */
  families: Family[];
  /** `cluster-pool-ipv4-cidr`/`-mask-size` and the IPv6 pair, for families enabled. */
  clusterPool: Partial<Record<Family, { cidrs: string[]; maskSize: number }>>;
  /** `identity-gc-interval`, ms (0 disables). */
  identityGcIntervalMs: number;
  /** `identity-heartbeat-timeout`, ms. */
  identityHeartbeatTimeoutMs: number;
  /** `identity-gc-rate-interval`, ms, and `identity-gc-rate-limit`: deletions per interval. */
  identityGcRate: { intervalMs: number; limit: number };
  /** `endpoint-gc-interval`, ms (0 disables). */
  endpointGcIntervalMs: number;
  /** `operator-prometheus-serve-addr` (empty host = all interfaces). */
  prometheus: { host: string; port: number } | undefined;
  /** `operator-api-serve-addr`: where /healthz is served. */
  api: { host: string; port: number } | undefined;
  /** `leader-election-lease-duration`, `-renew-deadline`, `-retry-period`, ms. */
  leaderElection: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** `k8s-namespace`: where the leader Lease lives. */
  namespace: string;
  /** `operator-id`: this replica's leader-election identity. */
  id: string;
  /** `k8s-kubeconfig-path`, if set. */
  kubeconfig: string | undefined;
  /** `config-dir`, if set: a directory of one file per setting (a mounted cilium-config). */
  configDir: string | undefined;
  /** `config-reload-interval`, ms: how often config-dir is re-read for new cluster-pool CIDRs. */
  configReloadIntervalMs: number;
  /** `debug`. */
  debug: boolean;
}

/** Every setting the operator accepts, with its default (undefined = unset). */
export const SETTINGS: Record<string, string | undefined> = {
  ipam: 'cluster-pool',
  'enable-ipv4': 'true',
  'enable-ipv6': 'false',
  'cluster-pool-ipv4-cidr': undefined,
  'cluster-pool-ipv4-mask-size': '24',
  'cluster-pool-ipv6-cidr': undefined,
  'cluster-pool-ipv6-mask-size': '120',
  'identity-gc-interval': '15m',
  'identity-heartbeat-timeout': '30m',
  'identity-gc-rate-interval': '1m',
  'identity-gc-rate-limit': '2500',
  'endpoint-gc-interval': '5m',
  'operator-prometheus-serve-addr': ':9963',
  'operator-api-serve-addr': 'localhost:9234',
  'leader-election-lease-duration': '15s',
  'leader-election-renew-deadline': '10s',
  'leader-election-retry-period': '2s',
  'k8s-namespace': 'kube-system',
  'operator-id': undefined,
  'k8s-kubeconfig-path': undefined,
  'config-dir': undefined,
  'config-reload-interval': '10s',
  debug: 'false',
};

/** Where settings come from; everything is injectable for tests. */
export interface ConfigSources {
  /** Command-line arguments after the program name: `--name=value`, `--name value`, `--flag`. */
  argv?: readonly string[];
  /** Environment; `CILIUM_CLUSTER_POOL_IPV4_CIDR` sets `cluster-pool-ipv4-cidr`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Parses `--name=value` / `--name value` / bare boolean `--name`; unknown names are errors. */
export function parseArgs(argv: readonly string[]): Record<string, string> {
  return parseFlags(argv, (name) => name in SETTINGS);
}

/** Reads a cilium-config style directory: one file per setting, named after it. Unknown names are ignored. */
export function readConfigDir(dir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(readSettingsDir(dir)).filter(([name]) => name in SETTINGS));
}

/** Merges sources (flags over env over config-dir over defaults) and validates the result. */
export function loadConfig(sources: ConfigSources = {}): OperatorConfig {
  const flags = parseArgs(sources.argv ?? []);
  const env = settingsFromEnv(sources.env ?? {}, Object.keys(SETTINGS));
  const dir = flags['config-dir'] ?? env['config-dir'];
  const file = dir ? readConfigDir(dir) : {};
  const raw: Record<string, string | undefined> = { ...SETTINGS, ...file, ...env, ...flags };
  return buildConfig(raw);
}

/** Turns raw string settings into a validated {@link OperatorConfig}. */
export function buildConfig(raw: Readonly<Record<string, string | undefined>>): OperatorConfig {
  const get = (name: string): string => raw[name] ?? '';
  const ipam = get('ipam');
  if (ipam !== 'cluster-pool' && ipam !== 'multi-pool') {
    throw new ConfigError('ipam', `mode "${ipam}" is not supported by ciliate-operator (use cluster-pool or multi-pool)`);
  }
  const families = (['ipv4', 'ipv6'] as const).filter((f) => parseBool(`enable-${f}`, get(`enable-${f}`)));
  if (families.length === 0) throw new ConfigError('enable-ipv4', 'at least one of enable-ipv4 and enable-ipv6 must be true');
  const clusterPool: OperatorConfig['clusterPool'] = {};
  if (ipam === 'cluster-pool') for (const f of families) clusterPool[f] = familyPool(f, get);
  const lease = {
    leaseDurationMs: parseDuration('leader-election-lease-duration', get('leader-election-lease-duration')),
    renewDeadlineMs: parseDuration('leader-election-renew-deadline', get('leader-election-renew-deadline')),
    retryPeriodMs: parseDuration('leader-election-retry-period', get('leader-election-retry-period')),
  };
  if (lease.renewDeadlineMs >= lease.leaseDurationMs) {
    throw new ConfigError('leader-election-renew-deadline', 'must be shorter than leader-election-lease-duration');
  }
  const listen = (name: string) => (get(name) ? parseListenAddress(name, get(name)) : undefined);
  return {
    ipam,
    families,
    clusterPool,
    identityGcIntervalMs: parseDuration('identity-gc-interval', get('identity-gc-interval')),
    identityHeartbeatTimeoutMs: parseDuration('identity-heartbeat-timeout', get('identity-heartbeat-timeout')),
    identityGcRate: {
      intervalMs: parseDuration('identity-gc-rate-interval', get('identity-gc-rate-interval')),
      limit: parseInteger('identity-gc-rate-limit', get('identity-gc-rate-limit'), 1, 1_000_000),
    },
    endpointGcIntervalMs: parseDuration('endpoint-gc-interval', get('endpoint-gc-interval')),
    prometheus: listen('operator-prometheus-serve-addr'),
    api: listen('operator-api-serve-addr'),
    leaderElection: lease,
    namespace: get('k8s-namespace') || 'kube-system',
    id: get('operator-id') || `${hostname()}-${process.pid}`,
    kubeconfig: raw['k8s-kubeconfig-path'] || undefined,
    configDir: raw['config-dir'] || undefined,
    configReloadIntervalMs: parseDuration('config-reload-interval', get('config-reload-interval')),
    debug: parseBool('debug', get('debug')),
  };
}

/** Validates one family's cluster-pool CIDR list and mask size. */
function familyPool(f: Family, get: (name: string) => string): { cidrs: string[]; maskSize: number } {
  const cidrSetting = `cluster-pool-${f}-cidr`;
  const maskSetting = `cluster-pool-${f}-mask-size`;
  const cidrs = parseList(get(cidrSetting));
  if (cidrs.length === 0) throw new ConfigError(cidrSetting, `required with ipam=cluster-pool and enable-${f}=true`);
  const width = f === 'ipv4' ? 32 : 128;
  const maskSize = parseInteger(maskSetting, get(maskSetting), 1, width);
  const seen: Prefix[] = [];
  for (const c of cidrs) {
    let p: Prefix;
    try {
      p = parsePrefix(c);
    } catch (err) {
      throw new ConfigError(cidrSetting, (err as Error).message);
    }
    if (p.family !== f) throw new ConfigError(cidrSetting, `${c} is not an ${f} CIDR`);
    if (seen.some((q) => overlaps(p, q))) throw new ConfigError(cidrSetting, `${c} overlaps another entry of the list`);
    seen.push(p);
    if (p.bits > maskSize) throw new ConfigError(maskSetting, `${maskSize} is shorter than the prefix of ${c}; use at least ${p.bits}`);
    if (2 ** (maskSize - p.bits) > MAX_BLOCKS) {
      throw new ConfigError(maskSetting, `${c} split into /${maskSize} blocks is more than ${MAX_BLOCKS} blocks`);
    }
  }
  return { cidrs, maskSize };
}
