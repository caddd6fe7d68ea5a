/**
 * Pod plumbing over route netlink, from the node's network namespace (the one the calling thread is
 * in): a veth pair per endpoint, host side `lxc<hash>` in the node namespace, the other end created
 * directly inside the pod's namespace under its final name. The pod gets its address as a /32 and a
 * default route via the link-local gateway 169.254.1.1, whose neighbour entry is pinned to the host
 * side's MAC address, so the node needs no address on the host side and no proxy ARP. The node routes
 * the pod's /32 to the host side. Everything done in the pod's namespace goes through a socket opened
 * inside it. Each call is a few in-process exchanges with the kernel (no process is spawned); the
 * functions stay async for their callers.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { RouteSocket } from '../datapath/netlink/route-socket.ts';
import type { LinkRef } from '../datapath/netlink/links.ts';
import { RT_TABLE } from '../datapath/netlink/constants.ts';

/** The pods' gateway address: link-local, never on the wire beyond the veth. */
export const POD_GATEWAY = '169.254.1.1';

/** Host-side interface name of an endpoint: `lxc` and 11 hex digits of a hash of its owner key. */
export function hostIfName(owner: string): string {
  return `lxc${createHash('sha256').update(owner).digest('hex').slice(0, 11)}`;
}

/** The MAC address of `ifName`, in the node namespace or in `netnsPath`. */
export async function macOf(ifName: string, netnsPath?: string): Promise<string> {
  const link = RouteSocket.using(netnsPath, (s) => s.link(ifName));
  if (!link) throw new Error(`no link ${ifName}${netnsPath ? ` in ${netnsPath}` : ''}`);
  if (!link.mac) throw new Error(`no MAC address on ${ifName}`);
  return link.mac;
}

/** Whether link `ifName` exists in the node namespace. */
export async function hostLinkExists(ifName: string): Promise<boolean> {
  return RouteSocket.using(undefined, (s) => s.link(ifName) !== undefined);
}

/** What {@link plumb} made. */
export interface Plumbed {
  hostIf: string;
  hostMac: string;
  podMac: string;
}

/** Locally administered unicast MAC addresses for both ends of an endpoint's veth, derived from its owner key. */
export function endpointMacs(owner: string): { host: string; pod: string } {
  const h = createHash('sha256').update(`mac:${owner}`).digest();
  const mac = (first: number) => [first, ...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return { host: mac(0x02), pod: mac(0x06) };
}

/** Creates the veth pair, the host end up, the pod's end named `ifName` inside the namespace at `netnsPath`. */
function createPair(node: RouteSocket, opts: { hostIf: string; hostMac: string; podMac: string; netnsPath: string; ifName: string; mtu: number }): void {
  const podNetns = openSync(opts.netnsPath, 'r');
  try {
    node.createVeth({
      name: opts.hostIf, mac: opts.hostMac, mtu: opts.mtu, up: true,
      peer: { name: opts.ifName, mac: opts.podMac, mtu: opts.mtu, netnsFd: podNetns },
    });
  } finally {
    closeSync(podNetns);
  }
}

/** Inside the pod: loopback and the pod's end up, the /32, the gateway on the link, the default route and the gateway's pinned MAC. */
function configurePod(opts: { netnsPath: string; ifName: string; ip: string }, hostMac: string): void {
  RouteSocket.using(opts.netnsPath, (pod) => {
    pod.setLinkUp('lo');
    pod.setLinkUp(opts.ifName);
    const dev: LinkRef = pod.requireLink(opts.ifName);
    pod.addAddress(dev, `${opts.ip}/32`);
    pod.replaceRoute({ dst: `${POD_GATEWAY}/32`, dev });
    pod.replaceRoute({ dst: '0.0.0.0/0', via: POD_GATEWAY, dev });
    pod.replacePermanentNeighbour({ dev, ip: POD_GATEWAY, mac: hostMac });
  });
}

/**
 * Creates and configures the veth pair of an endpoint with address `ip` in the pod namespace at
 * `netnsPath`, replacing a pair an earlier attempt left. On failure nothing is left behind.
 */
export async function plumb(opts: { owner: string; netnsPath: string; ifName: string; ip: string; mtu: number }): Promise<Plumbed> {
  const hostIf = hostIfName(opts.owner);
  const { host: hostMac, pod: podMac } = endpointMacs(opts.owner);
  return RouteSocket.using(undefined, async (node) => {
    if (node.link(hostIf)) await node.deleteLinkAsync(hostIf);
    createPair(node, { ...opts, hostIf, hostMac, podMac });
    try {
      configurePod(opts, hostMac);
      node.replaceRoute({ dst: `${opts.ip}/32`, dev: node.requireLink(hostIf) });
      return { hostIf, hostMac, podMac };
    } catch (err) {
      // The error that matters is the one being thrown.
      await node.deleteLinkAsync(hostIf).catch(() => false);
      throw err;
    }
  });
}

/**
 * Deletes an endpoint's host-side link (which takes its peer and the /32 route with it); nothing to
 * delete is fine. The kernel's part runs off the event loop: it waits for RCU grace periods.
 */
export async function unplumb(hostIf: string): Promise<void> {
  await RouteSocket.using(undefined, (node) => node.deleteLinkAsync(hostIf));
}

/** What CHECK finds wrong with the pod's side, or undefined when its address and default route are in place. */
function podProblem(opts: { netnsPath: string; ifName: string; ip: string }): string | undefined {
  let pod: RouteSocket;
  try {
    pod = RouteSocket.open(opts.netnsPath);
  } catch (err) {
    return `interface ${opts.ifName} in ${opts.netnsPath} is missing: ${(err as Error).message}`;
  }
  try {
    const dev = pod.link(opts.ifName);
    if (!dev) return `interface ${opts.ifName} in ${opts.netnsPath} is missing`;
    if (!pod.addresses(dev.index).some((a) => a.local === opts.ip && a.prefixLen === 32)) return `${opts.ifName} does not have ${opts.ip}/32`;
    const main = pod.routes().filter((r) => r.table === RT_TABLE.MAIN);
    if (!main.some((r) => r.dstLen === 0 && r.gateway === POD_GATEWAY)) return `no default route via ${POD_GATEWAY}`;
    return undefined;
  } finally {
    pod.close();
  }
}

/** What CHECK finds wrong with an endpoint's plumbing, or undefined when all is in place. */
export async function verifyPlumbing(opts: { hostIf: string; netnsPath: string; ifName: string; ip: string }): Promise<string | undefined> {
  return RouteSocket.using(undefined, (node) => {
    const host = node.link(opts.hostIf);
    if (!host) return `host interface ${opts.hostIf} is missing`;
    const problem = podProblem(opts);
    if (problem) return problem;
    const routed = node.routes().some((r) => r.table === RT_TABLE.MAIN && r.dst === `${opts.ip}/32` && r.oif === host.index);
    return routed ? undefined : `the node has no route for ${opts.ip} via ${opts.hostIf}`;
  });
}
