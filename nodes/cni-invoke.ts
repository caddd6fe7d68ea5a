/**
 * Calling CNI plugins the way a container runtime does: the node's network configuration list is
 * read from its conf folder; each plugin is found on CNI_PATH and executed with CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH in its environment and its
 * configuration (conflist entry plus `cniVersion`, `name` and, after the first plugin of ADD or for
 * CHECK/DEL, `prevResult`) on stdin. DEL runs the plugins in reverse order.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError, type CniResult, type ConfList, type PluginConfig } from '../cni/spec.ts';

/** One network attachment of a pod sandbox. */
export interface Attachment {
  containerId: string;
  /** Path of the pod's network namespace. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs (K8S_POD_NAMESPACE, K8S_POD_NAME, ...). */
  args: Record<string, string>;
}

const PLUGIN_TIMEOUT_MS = 150_000;

/** Reads the first `*.conflist` (by name) in `confDir`. */
export function loadConfList(confDir: string): ConfList {
  const file = readdirSync(confDir).filter((f) => f.endsWith('.conflist')).sort()[0];
  if (!file) throw new Error(`no .conflist in ${confDir}`);
  const list = JSON.parse(readFileSync(join(confDir, file), 'utf8')) as ConfList;
  if (!list.cniVersion || !list.name || !Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new Error(`${join(confDir, file)} is not a valid network configuration list`);
  }
  return list;
}

/** A CNI client for one node: its conflist folder and plugin search path. */
export class CniClient {
  /** @param confDir folder of the node's conflist; @param cniPath plugin folders */
  constructor(private readonly confDir: string, private readonly cniPath: string[]) {}

  /** ADD through every plugin; returns the final result. */
  async add(a: Attachment): Promise<CniResult> {
    const list = loadConfList(this.confDir);
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) prev = (await this.exec('ADD', a, this.config(list, plugin, prev))) ?? prev;
    if (!prev) throw new CniError(CniCode.IoFailure, 'ADD returned no result');
    return prev;
  }

  /** CHECK through every plugin against `prevResult` (skipped when the list disables it). */
  async check(a: Attachment, prevResult: CniResult): Promise<void> {
    const list = loadConfList(this.confDir);
    if (list.disableCheck) return;
    for (const plugin of list.plugins) await this.exec('CHECK', a, this.config(list, plugin, prevResult));
  }

  /** DEL through every plugin in reverse order, with the cached ADD result if there is one. */
  async del(a: Attachment, prevResult?: CniResult): Promise<void> {
    const list = loadConfList(this.confDir);
    for (const plugin of [...list.plugins].reverse()) await this.exec('DEL', a, this.config(list, plugin, prevResult));
  }

  /** STATUS of every plugin: resolves when all can serve ADD. */
  async status(): Promise<void> {
    const list = loadConfList(this.confDir);
    for (const plugin of list.plugins) await this.exec('STATUS', undefined, this.config(list, plugin, undefined));
  }

  private config(list: ConfList, plugin: ConfList['plugins'][number], prevResult: CniResult | undefined): PluginConfig {
    return { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prevResult ? { prevResult } : {}) };
  }

  private find(type: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(type)) throw new CniError(CniCode.InvalidConfig, `invalid plugin type "${type}"`);
    for (const dir of this.cniPath) if (existsSync(join(dir, type))) return join(dir, type);
    throw new CniError(CniCode.InvalidConfig, `plugin "${type}" not found on CNI_PATH ${this.cniPath.join(':')}`);
  }

  private exec(command: string, a: Attachment | undefined, config: PluginConfig): Promise<CniResult | undefined> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, CNI_COMMAND: command, CNI_PATH: this.cniPath.join(':') };
    if (a) {
      Object.assign(env, {
        CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns, CNI_IFNAME: a.ifName,
        CNI_ARGS: Object.entries(a.args).map(([k, v]) => `${k}=${v}`).join(';'),
      });
    }
    const path = this.find(config.type);
    return new Promise((resolve, reject) => {
      const child = spawn(path, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), PLUGIN_TIMEOUT_MS);
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (err) => reject(new CniError(CniCode.IoFailure, `cannot run ${path}: ${err.message}`)));
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) {
          resolve(stdout.trim() ? (JSON.parse(stdout) as CniResult) : undefined);
          return;
        }
        try {
          const e = JSON.parse(stdout) as { code: number; msg: string; details?: string };
          reject(new CniError(e.code, `${config.type} ${command}: ${e.msg}`, e.details));
        } catch {
          reject(new CniError(CniCode.IoFailure, `${config.type} ${command} exited ${code}`, (stderr || stdout).slice(-500)));
        }
      });
      child.stdin.end(JSON.stringify(config));
    });
  }
}
