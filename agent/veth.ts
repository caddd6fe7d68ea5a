/**
 * Pod plumbing with iproute2, run from the node's network namespace: a veth pair per endpoint,
 * host side `lxc<hash>` in the node namespace, the other end moved into the pod's namespace and
 * renamed. The pod gets its address as a /32 and a default route via the link-local gateway
 * 169.254.1.1, whose neighbour entry is pinned to the host side's MAC address, so the node needs
 * no address on the host side and no proxy ARP. The node routes the pod's /32 to the host side.
 */
import { createHash } from 'node:crypto';
import { run } from '../cluster/exec.ts';

/** The pods' gateway address: link-local, never on the wire beyond the veth. */
export const POD_GATEWAY = '169.254.1.1';

/** Host-side interface name of an endpoint: `lxc` and 11 hex digits of a hash of its owner key. */
export function hostIfName(owner: string): string {
  return `lxc${createHash('sha256').update(owner).digest('hex').slice(0, 11)}`;
}

/** Runs `ip args` inside the namespace at `netnsPath`. */
export function ipIn(netnsPath: string, args: string[]): Promise<string> {
  return run('nsenter', [`--net=${netnsPath}`, '--', 'ip', ...args]);
}

/** The MAC address of `ifName`, in the node namespace or in `netnsPath`. */
export async function macOf(ifName: string, netnsPath?: string): Promise<string> {
  const args = ['-j', 'link', 'show', 'dev', ifName];
  const out = netnsPath ? await ipIn(netnsPath, args) : await run('ip', args);
  const mac = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (!mac) throw new Error(`no MAC address on ${ifName}`);
  return mac;
}

/** Whether link `ifName` exists in the node namespace. */
export async function hostLinkExists(ifName: string): Promise<boolean> {
  return run('ip', ['link', 'show', 'dev', ifName]).then(() => true, () => false);
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

/**
 * Creates and configures the veth pair of an endpoint with address `ip` in the pod namespace at
 * `netnsPath`. Both MAC addresses are chosen up front, so the whole job is two `ip -batch` runs (one
 * per namespace) instead of a command per step: pod creation waits on this.
 */
export async function plumb(opts: { owner: string; netnsPath: string; ifName: string; ip: string; mtu: number }): Promise<Plumbed> {
  const hostIf = hostIfName(opts.owner);
  const tmp = `tmp${hostIf.slice(3)}`;
  const { host: hostMac, pod: podMac } = endpointMacs(opts.owner);
  if (await hostLinkExists(hostIf)) await run('ip', ['link', 'del', hostIf]);
  await run('ip', ['-batch', '-'], { input: [
    `link add ${hostIf} address ${hostMac} mtu ${opts.mtu} type veth peer name ${tmp} address ${podMac} mtu ${opts.mtu} netns ${opts.netnsPath}`,
    `link set ${hostIf} up`,
  ].join('\n') + '\n' });
  try {
    await run('nsenter', [`--net=${opts.netnsPath}`, '--', 'ip', '-batch', '-'], { input: [
      'link set lo up',
      `link set ${tmp} name ${opts.ifName}`,
      `addr add ${opts.ip}/32 dev ${opts.ifName}`,
      `link set ${opts.ifName} up`,
      `route add ${POD_GATEWAY} dev ${opts.ifName} scope link`,
      `route add default via ${POD_GATEWAY} dev ${opts.ifName}`,
      `neigh replace ${POD_GATEWAY} lladdr ${hostMac} dev ${opts.ifName} nud permanent`,
    ].join('\n') + '\n' });
    await run('ip', ['route', 'replace', `${opts.ip}/32`, 'dev', hostIf, 'scope', 'link']);
    return { hostIf, hostMac, podMac };
  } catch (err) {
    await run('ip', ['link', 'del', hostIf]).catch(() => undefined);
    throw err;
  }
}

/** Deletes an endpoint's host-side link (which takes its peer and the /32 route with it). */
export async function unplumb(hostIf: string): Promise<void> {
  if (await hostLinkExists(hostIf)) await run('ip', ['link', 'del', hostIf]);
}

/** What CHECK finds wrong with an endpoint's plumbing, or undefined when all is in place. */
export async function verifyPlumbing(opts: { hostIf: string; netnsPath: string; ifName: string; ip: string }): Promise<string | undefined> {
  if (!(await hostLinkExists(opts.hostIf))) return `host interface ${opts.hostIf} is missing`;
  let addrs: { addr_info?: { local?: string; prefixlen?: number }[] }[];
  try {
    addrs = JSON.parse(await ipIn(opts.netnsPath, ['-j', 'addr', 'show', 'dev', opts.ifName])) as typeof addrs;
  } catch (err) {
    return `interface ${opts.ifName} in ${opts.netnsPath} is missing: ${(err as Error).message}`;
  }
  if (!addrs[0]?.addr_info?.some((a) => a.local === opts.ip && a.prefixlen === 32)) return `${opts.ifName} does not have ${opts.ip}/32`;
  const routes = JSON.parse(await ipIn(opts.netnsPath, ['-j', 'route', 'show', 'default'])) as { gateway?: string }[];
  if (!routes.some((r) => r.gateway === POD_GATEWAY)) return `no default route via ${POD_GATEWAY}`;
  const host = JSON.parse(await run('ip', ['-j', 'route', 'show', `${opts.ip}/32`])) as { dev?: string }[];
  if (!host.some((r) => r.dev === opts.hostIf)) return `the node has no route for ${opts.ip} via ${opts.hostIf}`;
  return undefined;
}
