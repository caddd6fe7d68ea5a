/**
 * Settings of the daemons (agent, operator) as upstream gives them: read from command-line flags,
 * `CILIUM_*` environment variables and a config directory (a mounted `cilium-config` ConfigMap, one
 * file per setting), then turned into typed values by readers whose errors name the setting.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A configuration problem; `setting` is the upstream-style name of the offending setting. */
export class ConfigError extends Error {
  /** Creates an error about `setting`; the message always starts with the setting's name. */
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`invalid setting ${setting}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration (`500ms`, `30s`, `15m`, `1h30m`) into milliseconds. */
export function parseDuration(setting: string, text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t) && t !== '0') throw new ConfigError(setting, `"${text}" needs a unit, e.g. ${t}s or ${t}m`);
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * (UNITS[m[2]!] ?? 0);
    end = re.lastIndex;
  }
  if (end === 0 || end !== t.length) throw new ConfigError(setting, `"${text}" is not a duration such as 30s, 15m or 1h`);
  return total;
}

/** Parses a whole number within [min, max]. */
export function parseInteger(setting: string, text: string, min: number, max: number): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new ConfigError(setting, `"${text}" is not a whole number`);
  const n = Number(t);
  if (n < min || n > max) throw new ConfigError(setting, `${n} is outside ${min}..${max}`);
  return n;
}

/** Parses `true`/`false` (also 1/0, yes/no). */
export function parseBool(setting: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(t)) return true;
  if (['false', '0', 'no', ''].includes(t)) return false;
  throw new ConfigError(setting, `"${text}" is not true or false`);
}

/** Splits a list given as space- or comma-separated words (how upstream's ConfigMap holds lists). */
export function parseList(text: string): string[] {
  return text.split(/[\s,]+/).filter((s) => s.length > 0);
}

/** Parses `host:port` or `:port` for a listener; an empty host means all interfaces. */
export function parseListenAddress(setting: string, text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim());
  if (!m) throw new ConfigError(setting, `"${text}" is not an address such as :9963 or 127.0.0.1:9963`);
  return { host: m[1] ?? m[2] ?? '', port: parseInteger(setting, m[3]!, 0, 65535) };
}

/** Parses one of `choices`. */
export function parseEnum<T extends string>(setting: string, text: string, choices: readonly T[]): T {
  const t = text.trim();
  if ((choices as readonly string[]).includes(t)) return t as T;
  throw new ConfigError(setting, `"${text}" is not one of ${choices.join(', ')}`);
}

/**
 * Parses `--name=value`, `--name value` and a bare boolean `--name`; a name `known` rejects is an
 * error, as upstream's command line rejects an unknown flag.
 */
export function parseFlags(argv: readonly string[], known: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument (settings are given as --name=value)');
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!known(name)) throw new ConfigError(name, 'unknown flag');
    if (eq >= 0) out[name] = arg.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out[name] = argv[++i]!;
    else out[name] = 'true';
  }
  return out;
}

/**
 * Reads a config directory: one file per setting, named after it, its content the value (trimmed).
 * Dot-names are skipped: kubelet's ConfigMap mount keeps its `..data` links there.
 */
export function readSettingsDir(dir: string): Record<string, string> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch {
    throw new ConfigError('config-dir', `${dir} is not a readable directory`);
  }
  const out: Record<string, string> = {};
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isFile()) out[name] = readFileSync(path, 'utf8').trim();
  }
  return out;
}

/** The environment variable upstream reads a setting from: `CILIUM_` + upper case, `_` for `-`. */
export function settingEnvName(name: string): string {
  return `CILIUM_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** The settings among `names` that the environment sets. */
export function settingsFromEnv(env: Readonly<Record<string, string | undefined>>, names: Iterable<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = env[settingEnvName(name)];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
