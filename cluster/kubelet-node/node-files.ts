/** Writes what a real node's containerd and kubelet read: their configurations and the CNI plugin folder. */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfig } from '../node-config.ts';
import { containerdConfig } from './containerd-config.ts';
import { kubeletConfig } from './kubelet-config.ts';
import { runtimePaths } from './paths.ts';

/** Debian's reference CNI plugins (containerd runs `loopback` for every sandbox's lo). */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';

/** Writes node `node`'s containerd and kubelet configurations; `cniPlugin` is the ciliate-cni binary. */
export async function writeRuntimeFiles(node: NodeConfig, clientCA: string, cniPlugin: string): Promise<void> {
  const p = runtimePaths(node.dir);
  for (const d of [p.containerdRoot, p.containerdState, p.runcRoot, p.cniBinDir, p.kubeletRoot, p.podLogs]) await mkdir(d, { recursive: true });
  await writeFile(p.containerdConfig, containerdConfig(p, node.cniConfDir));
  await writeFile(p.kubeletConfig, kubeletConfig({ node: node.name, address: node.address, clientCA }, p));
  await linkCniPlugins(p.cniBinDir, [['loopback', join(DEBIAN_CNI_DIR, 'loopback')], ['ciliate-cni', cniPlugin]]);
}

/** Puts each `[name, binary]` into a node's CNI plugin folder as a symlink, replacing what was there. */
export async function linkCniPlugins(cniBinDir: string, links: [string, string][]): Promise<void> {
  for (const [name, target] of links) {
    await rm(join(cniBinDir, name), { force: true });
    await symlink(target, join(cniBinDir, name));
  }
}
