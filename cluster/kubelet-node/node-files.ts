/** Writes what a real node's containerd and kubelet read: their configurations and the CNI plugin folder. */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfig } from '../node-config.ts';
import { containerdConfig } from './containerd-config.ts';
import { kubeletConfig } from './kubelet-config.ts';
import { nodeHostDir } from './mount-ns.ts';
import { runtimePaths } from './paths.ts';

/** Debian's reference CNI plugins (containerd runs `loopback` for every sandbox's lo). */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';

/**
 * Writes node `node`'s containerd and kubelet configurations. `cniPlugin` is the ciliate-cni binary
 * linked into the node's plugin folder; without it the node has a mount namespace of its own
 * (mount-ns.ts) whose /opt/cni/bin holds only `loopback` until Ciliate's pods install their plugin.
 */
export async function writeRuntimeFiles(node: NodeConfig, clientCA: string, cniPlugin: string | undefined): Promise<void> {
  const p = runtimePaths(node.dir);
  const binDir = cniPlugin ? p.cniBinDir : nodeHostDir(node.dir, '/opt/cni/bin');
  for (const d of [p.containerdRoot, p.containerdState, p.runcRoot, binDir, p.kubeletRoot, p.podLogs]) await mkdir(d, { recursive: true });
  await writeFile(p.containerdConfig, containerdConfig(p, node.cniConfDir, !cniPlugin));
  await writeFile(p.kubeletConfig, kubeletConfig({ node: node.name, address: node.address, clientCA }, p));
  const loopback: [string, string] = ['loopback', join(DEBIAN_CNI_DIR, 'loopback')];
  await linkCniPlugins(binDir, cniPlugin ? [loopback, ['ciliate-cni', cniPlugin]] : [loopback]);
}

/** Puts each `[name, binary]` into a node's CNI plugin folder as a symlink, replacing what was there. */
export async function linkCniPlugins(cniBinDir: string, links: [string, string][]): Promise<void> {
  for (const [name, target] of links) {
    await rm(join(cniBinDir, name), { force: true });
    await symlink(target, join(cniBinDir, name));
  }
}
