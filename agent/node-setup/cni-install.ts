/**
 * Installing Ciliate as the node's CNI, as upstream's chart does: the plugin binary copied into the
 * node's plugin folder (`cni.binPath`), and the network configuration `05-cilium.conflist` written
 * into `cni.confPath`. With `cni.exclusive` every other configuration there is renamed to
 * `<name>.cilium_bak` so the runtime picks Ciliate's; with `cni.uninstall` the agent's shutdown
 * removes Ciliate's configuration again. Files are written beside their target and renamed, so a
 * runtime never reads half a file.
 */
import { chmodSync, copyFileSync, existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Upstream's configuration file name (lowest-sorting, so the runtime picks it). */
export const CONFLIST_NAME = '05-cilium.conflist';
/** The suffix upstream gives other configurations in exclusive mode. */
export const BACKUP_SUFFIX = '.cilium_bak';
/** The plugin's binary name in the plugin folder (the conflist's `type`). */
export const PLUGIN_NAME = 'ciliate-cni';

/** What a node's CNI configuration says. */
export interface ConflistSettings {
  /** The agent's CNI socket (`socket-path`), as the node sees it. */
  socket: string;
  /** Interface MTU of pods; absent: the agent's default. */
  mtu?: number;
}

/** The conflist text for `s`. */
export function conflistText(s: ConflistSettings): string {
  const plugin = { type: PLUGIN_NAME, socket: s.socket, ...(s.mtu ? { mtu: s.mtu } : {}) };
  return JSON.stringify({ cniVersion: '1.0.0', name: 'cilium', plugins: [plugin] }, null, 2) + '\n';
}

/** Writes `text` to `path` through a temporary file and a rename. */
function writeAtomic(path: string, text: string | Buffer, mode: number): void {
  const tmp = `${path}.ciliate-tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Copies the plugin binary `source` into `binDir` as {@link PLUGIN_NAME}; returns its path. */
export function installPlugin(source: string, binDir: string): string {
  if (!existsSync(binDir)) throw new Error(`cni.binPath: ${binDir} does not exist on this node`);
  const target = join(binDir, PLUGIN_NAME);
  const tmp = `${target}.ciliate-tmp`;
  copyFileSync(source, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  return target;
}

/** Whether `name` is a CNI network configuration a runtime would read. */
function isNetworkConfig(name: string): boolean {
  return /\.(conf|conflist|json)$/.test(name);
}

/**
 * Writes {@link CONFLIST_NAME} into `confDir`; with `exclusive`, renames every other configuration
 * there to `<name>.cilium_bak` first. Returns the names it renamed.
 */
export function writeConflist(confDir: string, s: ConflistSettings, exclusive: boolean): string[] {
  if (!existsSync(confDir)) throw new Error(`cni.confPath: ${confDir} does not exist on this node`);
  const renamed: string[] = [];
  if (exclusive) {
    for (const name of readdirSync(confDir)) {
      if (name === CONFLIST_NAME || !isNetworkConfig(name)) continue;
      renameSync(join(confDir, name), join(confDir, `${name}${BACKUP_SUFFIX}`));
      renamed.push(name);
    }
  }
  writeAtomic(join(confDir, CONFLIST_NAME), conflistText(s), 0o644);
  return renamed;
}

/** Removes Ciliate's configuration from `confDir` (the plugin binary stays, as upstream leaves it). */
export function removeConflist(confDir: string): boolean {
  const path = join(confDir, CONFLIST_NAME);
  if (!existsSync(path)) return false;
  rmSync(path, { force: true });
  return true;
}
