/**
 * The bench's baseline CNI: Debian's reference `bridge` plugin with host-local IPAM, given to one real
 * node's containerd for the duration of a measurement. The bridge lives only inside the node's network
 * namespace, with no masquerade and no route anywhere else; its pods need no traffic, only an address.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { DEBIAN_CNI_DIR, linkCniPlugins } from '../../cluster/kubelet-node/node-files.ts';
import { runtimePaths } from '../../cluster/kubelet-node/paths.ts';
import { sleep } from '../support/stats.ts';

/** The bridge's pod subnet (inside the node namespace only). */
export const BRIDGE_SUBNET = '10.250.0.0/24';
/** Sorts before Ciliate's `05-ciliate.conflist`: containerd (max_conf_num 1) loads the first file. */
const CONFLIST = '00-bench-bridge.conflist';

/** Runs `fn` while node `node`'s containerd sets pods up with the bridge plugin, then restores Ciliate's CNI. */
export async function useBridgeCni<T>(node: NodeConfig, fn: () => Promise<T>): Promise<T> {
  const { cniBinDir } = runtimePaths(node.dir);
  const file = join(node.cniConfDir, CONFLIST);
  await linkCniPlugins(cniBinDir, [['bridge', join(DEBIAN_CNI_DIR, 'bridge')], ['host-local', join(DEBIAN_CNI_DIR, 'host-local')]]);
  await writeFile(file, JSON.stringify({
    cniVersion: '1.0.0', name: 'bench-bridge',
    plugins: [{
      type: 'bridge', bridge: 'cbench0', isGateway: true, ipMasq: false,
      ipam: { type: 'host-local', ranges: [[{ subnet: BRIDGE_SUBNET }]], dataDir: join(node.dir, 'cni', 'bench-ipam') },
    }],
  }, null, 2));
  try {
    await sleep(2000); // containerd notices a changed CNI folder asynchronously
    return await fn();
  } finally {
    await rm(file, { force: true });
    await sleep(2000);
  }
}
