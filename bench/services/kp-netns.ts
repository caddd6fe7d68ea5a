/**
 * The kube-proxy peer's own isolated node: a "kp node" namespace routing between a client and a
 * server namespace, wired like Ciliate's pods (address /32 on eth0, default route via the link-local
 * gateway whose neighbour entry is pinned) but with no BPF anywhere: kube-proxy's iptables rules in
 * the kp node namespace are the only service translation. The client and server take the addresses
 * of the Ciliate cluster's client and server pods, so the same Services and EndpointSlices are valid
 * here; nothing connects these namespaces to the cluster bridge.
 *
 * kube-proxy reaches the apiserver over one veth from the root namespace, with /32 routes on both
 * ends only (the kp node's address towards the veth here, the apiserver's address towards the veth
 * there) and pinned neighbours: nothing else is routed, and no route goes near the uplink.
 */
import { randomBytes } from 'node:crypto';
import { run } from '../../runtime/exec.ts';
import { deleteNetns, netnsPath } from '../../cluster/nodes.ts';
import { endpointMacs, POD_GATEWAY } from '../../agent/veth.ts';

/** The isolated topology. */
export interface KpNetns {
  /** Namespace names. */
  node: string;
  client: string;
  server: string;
  /** The kp node's address on its veth to the root namespace (kube-proxy's node IP). */
  nodeAddr: string;
  /** Removes the namespaces (killing what runs in them) and the root-side veth with its route. */
  destroy(): Promise<void>;
}

async function ipBatch(netns: string | undefined, lines: string[]): Promise<void> {
  await run('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Gives `pod` address `ip` on an eth0 veth whose other end, `hostIf`, is in `node`. */
async function attachPod(node: string, pod: string, hostIf: string, ip: string): Promise<void> {
  const mac = endpointMacs(`${node}/${pod}`);
  await ipBatch(node, [
    `link add ${hostIf} address ${mac.host} type veth peer name eth0 address ${mac.pod} netns ${pod}`,
    `link set ${hostIf} up`,
  ]);
  await ipBatch(pod, [
    'link set lo up',
    'link set eth0 up',
    `addr add ${ip}/32 dev eth0`,
    `route add ${POD_GATEWAY} dev eth0 scope link`,
    `route add default via ${POD_GATEWAY} dev eth0`,
    `neigh replace ${POD_GATEWAY} lladdr ${mac.host} dev eth0 nud permanent`,
  ]);
  await ipBatch(node, [
    `route add ${ip}/32 dev ${hostIf} scope link`,
    `neigh replace ${ip} lladdr ${mac.pod} dev ${hostIf} nud permanent`,
  ]);
}

/** Joins `node` to the root namespace by a veth carrying only nodeAddr <-> apiserverIp. */
async function attachApiserverPath(node: string, rootIf: string, nodeAddr: string, apiserverIp: string): Promise<void> {
  const mac = endpointMacs(`${node}/apiserver`);
  await ipBatch(undefined, [
    `link add ${rootIf} address ${mac.host} type veth peer name api address ${mac.pod} netns ${node}`,
    `link set ${rootIf} up`,
    `route add ${nodeAddr}/32 dev ${rootIf} scope link`,
    `neigh replace ${nodeAddr} lladdr ${mac.pod} dev ${rootIf} nud permanent`,
  ]);
  await ipBatch(node, [
    'link set lo up',
    'link set api up',
    `addr add ${nodeAddr}/32 dev api`,
    `route add ${apiserverIp}/32 dev api scope link`,
    `neigh replace ${apiserverIp} lladdr ${mac.host} dev api nud permanent`,
  ]);
}

/**
 * Creates the kp node, client and server namespaces (unique names per run). `apiserverIp` is the
 * cluster bridge's address; the kp node takes `.250` of that /24, which no cluster node uses.
 */
export async function createKpNetns(opts: { clientIp: string; serverIp: string; apiserverIp: string }): Promise<KpNetns> {
  const suffix = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  const node = `svb-kpn-${suffix}`, client = `svb-kpc-${suffix}`, server = `svb-kps-${suffix}`;
  const rootIf = `svk${suffix}`.slice(0, 15);
  const nodeAddr = opts.apiserverIp.replace(/\.\d+$/, '.250');
  const made: string[] = [];
  const destroy = async (): Promise<void> => {
    await run('ip', ['link', 'del', rootIf]).catch(() => undefined);
    for (const ns of made.reverse()) await deleteNetns(ns);
  };
  try {
    for (const ns of [node, client, server]) {
      await run('ip', ['netns', 'add', ns]);
      made.push(ns);
    }
    await run('nsenter', [`--net=${netnsPath(node)}`, '--', 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await attachPod(node, client, 'lxc-client', opts.clientIp);
    await attachPod(node, server, 'lxc-server', opts.serverIp);
    await attachApiserverPath(node, rootIf, nodeAddr, opts.apiserverIp);
    return { node, client, server, nodeAddr, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
