/**
 * The node device's programs (cil_from_netdev / cil_to_netdev on the interface that holds the
 * node's address): NodePort, externalIP and LoadBalancer frontends reachable from the node network.
 * Links are pinned under <pinRoot>/links/netdev, so they outlive the agent and a restarted agent
 * swaps its programs in without a gap.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { attachPinned, type AttachMode, type InterfaceAttachment } from '../datapath/attach.ts';
import { loadNetdev } from '../datapath/loader.ts';
import { native } from '../datapath/native.ts';
import type { Logger } from '../runtime/logger.ts';
import { intToIp, parsePrefix } from './ipv4.ts';

/** An interface holding an address: its name, index and the network of that address (CIDR). */
export interface NodeDevice {
  name: string;
  ifindex: number;
  network: string;
}

/** The interface holding `ip` in this network namespace, with its index and that address's network. */
export function deviceWithAddress(ip: string): NodeDevice | undefined {
  const links = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; ifindex: number; addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
  for (const link of links) {
    const addr = link.ifname === 'lo' ? undefined : (link.addr_info ?? []).find((a) => a.local === ip);
    if (!addr) continue;
    const { base, bits } = parsePrefix(`${ip}/${addr.prefixlen ?? 32}`);
    return { name: link.ifname, ifindex: link.ifindex, network: `${intToIp(base)}/${bits}` };
  }
  return undefined;
}

/** What attachNodeDevice needs. */
export interface NodeDeviceOptions {
  pinRoot: string;
  nodeIp: string;
  maglevTableSize?: number;
  attachMode?: AttachMode | 'auto';
  /** Runs interface work in the node's network namespace (tests). */
  inNodeNetns?: <T>(fn: () => T) => T;
  log: Logger;
}

/**
 * Loads and attaches the node device's programs over the node's pinned shared maps. Returns the
 * attachment (release() on shutdown keeps it attached), or undefined when no interface holds the
 * node's address (NodePort is then unavailable, and said so in the log).
 */
export function attachNodeDevice(o: NodeDeviceOptions): InterfaceAttachment | undefined {
  const inNs = o.inNodeNetns ?? ((fn) => fn());
  const dev = inNs(() => deviceWithAddress(o.nodeIp));
  if (!dev) {
    o.log.warn('no interface holds the node address; NodePort and external frontends are not served', { nodeIp: o.nodeIp });
    return undefined;
  }
  const progs = loadNetdev({ nodeIp: o.nodeIp, ...(o.maglevTableSize ? { maglevTableSize: o.maglevTableSize } : {}) }, { pinRoot: o.pinRoot });
  try {
    const { attachment, previous } = inNs(() => attachPinned(join(o.pinRoot, 'links', 'netdev'), dev.ifindex, progs, o.attachMode ?? 'auto'));
    o.log.info('node device programs attached', { device: dev.name, ifindex: dev.ifindex, restored: previous });
    return attachment;
  } finally {
    native().fdClose(progs.fromContainer);
    native().fdClose(progs.toContainer);
  }
}
