/**
 * The cluster's own link: a bridge that carries the node network. The apiserver listens on the
 * bridge's first address so that node network namespaces attached later can reach it. Only a
 * connected route for the bridge's own /24 exists: nothing here routes toward the uplink.
 *
 * Each cluster holds a slot k from 1 to 254: the node network 172.29.<k>.0/24 on its bridge, and
 * the ports of slot k (ports.ts). A slot is taken while its /24 is on some link; it is chosen and
 * its bridge address added under the machine-wide allocation lock, so clusters started at the
 * same time take different slots. Deleting the bridge gives the slot back.
 */
import { withAllocationLock } from './alloc-lock.ts';
import { run } from '../runtime/exec.ts';
import { slotPortsFree } from './ports.ts';

/** The node network of a cluster. */
export interface NodeNetwork {
  bridge: string;
  /** The /24 prefix, e.g. 172.29.3.0/24. */
  cidr: string;
  /** The bridge's (and apiserver's) address, e.g. 172.29.3.1. */
  gateway: string;
  /** The cluster's slot k: its /24 is 172.29.<k>.0/24 and its ports are slotPorts(k). */
  slot: number;
}

/** Second octet range the node networks are carved from: 172.29.<k>.0/24. */
const BASE = '172.29';

/** The bridge name of a cluster. */
export function bridgeName(cluster: string): string {
  return `cil-${cluster}`;
}

async function usedThirdOctets(): Promise<Set<number>> {
  const out = await run('ip', ['-j', 'addr', 'show']);
  const used = new Set<number>();
  for (const link of JSON.parse(out) as { addr_info?: { local?: string }[] }[]) {
    for (const a of link.addr_info ?? []) {
      const m = a.local?.match(/^172\.29\.(\d+)\./);
      if (m) used.add(Number(m[1]));
    }
  }
  return used;
}

/** Whether a link with this name exists. */
export async function linkExists(name: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

/** Creates the cluster's bridge on the first free slot's 172.29.<k>.0/24. */
export async function createNodeNetwork(cluster: string): Promise<NodeNetwork> {
  const bridge = bridgeName(cluster);
  if (await linkExists(bridge)) await deleteNodeNetwork(cluster);
  return withAllocationLock(async () => {
    const slot = await freeSlot();
    const gateway = `${BASE}.${slot}.1`;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    try {
      await run('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
      await run('ip', ['link', 'set', bridge, 'up']);
    } catch (err) {
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      throw err;
    }
    return { bridge, cidr: `${BASE}.${slot}.0/24`, gateway, slot };
  });
}

/** The first slot whose /24 no link has and whose ports nothing listens on; call it under the allocation lock. */
async function freeSlot(): Promise<number> {
  const used = await usedThirdOctets();
  for (let k = 1; k < 255; k++) {
    if (!used.has(k) && (await slotPortsFree(k))) return k;
  }
  throw new Error('no free cluster slot left: every 172.29.<k>.0/24 node network (or its ports) is in use');
}

/** Deletes the cluster's bridge; a missing bridge is not an error. */
export async function deleteNodeNetwork(cluster: string): Promise<void> {
  const bridge = bridgeName(cluster);
  if (await linkExists(bridge)) await run('ip', ['link', 'del', bridge]);
}
