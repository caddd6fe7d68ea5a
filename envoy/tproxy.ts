/**
 * The node side of the transparent redirect to the L7 proxies (see datapath/bpf/lib/proxy.h): in
 * the agent's network namespace, packets marked `port << 16 | 0x200` by the datapath are routed to
 * this node (`ip rule fwmark 0x200/0xf00 lookup 2004`, `local 0.0.0.0/0 dev lo table 2004`, as
 * upstream), and a mangle chain `CILIUM_PRE_mangle` (upstream's name) gives each proxy port's
 * packets to its transparent listener (TPROXY), or to the proxy's connection they belong to. TCP
 * and UDP alike; any proxy port. The chain is written whole from the registered ports, together
 * with the raw and filter chains that take the proxies' traffic out of connection tracking
 * (proxy-notrack.ts).
 */
import { writeFile } from 'node:fs/promises';
import { run } from '../runtime/exec.ts';
import { MARK_MAGIC_TO_PROXY, proxyMark } from './proxy-marks.ts';
import { writeOwnedChains } from '../runtime/iptables-chains.ts';
import { PROXY_NOTRACK_CHAINS } from './proxy-notrack.ts';

/** The routing table of packets for a proxy (upstream's number). */
export const PROXY_ROUTE_TABLE = 2004;
/** The priority of its rule (upstream's). */
export const PROXY_RULE_PRIORITY = 9;
/** The mangle chain the agent owns. */
export const TPROXY_CHAIN = 'CILIUM_PRE_mangle';
/** Proxy ports are taken from upstream's range. */
export const PROXY_PORT_RANGE = { from: 10000, to: 20000 } as const;

/** A proxy's listener: its port and transport. */
export interface ProxyListenerPort {
  readonly port: number;
  readonly proto: 'tcp' | 'udp';
}

/** The TPROXY chain's rules (iptables-restore syntax, without `-A CHAIN`). */
export function tproxyRules(ports: readonly ProxyListenerPort[]): string[] {
  return [...ports].sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto)).map(({ port, proto }) =>
    `-p ${proto} -m mark --mark 0x${proxyMark(port).toString(16)} -m comment --comment "cilium: TPROXY to proxy port ${port}" ` +
    `-j TPROXY --on-port ${port} --on-ip 0.0.0.0 --tproxy-mark 0x${MARK_MAGIC_TO_PROXY.toString(16)}/0xf00`);
}

/** Checks a proxy port: an integer in {@link PROXY_PORT_RANGE}. */
export function checkProxyPort(port: number): void {
  if (!Number.isInteger(port) || port < PROXY_PORT_RANGE.from || port > PROXY_PORT_RANGE.to) {
    throw new Error(`proxy port ${port}: not in ${PROXY_PORT_RANGE.from}-${PROXY_PORT_RANGE.to}`);
  }
}

/** Every listener port registered in this process: the chain is written whole from them. */
const registered = new Map<string, ProxyListenerPort>();
let routing: Promise<void> | undefined;
let writing: Promise<void> = Promise.resolve();

/**
 * The redirect's kernel state in the calling process's network namespace: policy routing and the
 * TPROXY chain for every registered listener port. Every instance (one per proxy: HTTP, DNS, ...)
 * shares the process's registrations, so each chain written holds all of them.
 */
export class TransparentRedirect {
  /** Registers listener ports and rewrites the chain; resolves once the kernel has them. */
  add(ports: readonly ProxyListenerPort[]): Promise<void> {
    for (const p of ports) {
      checkProxyPort(p.port);
      registered.set(`${p.proto}/${p.port}`, p);
    }
    return write();
  }

  /** Forgets listener ports and rewrites the chain. */
  remove(ports: readonly ProxyListenerPort[]): Promise<void> {
    for (const p of ports) registered.delete(`${p.proto}/${p.port}`);
    return write();
  }
}

/** Writes the chain from the registrations, after the policy routing (set up once; again after a failure). */
function write(): Promise<void> {
  writing = writing.catch(() => undefined).then(async () => {
    routing ??= ensureProxyRouting().catch((err: unknown) => {
      routing = undefined;
      throw err;
    });
    await routing;
    await writeOwnedChains([{ table: 'mangle', name: TPROXY_CHAIN, hook: 'PREROUTING', rules: tproxyRules([...registered.values()]) }, ...PROXY_NOTRACK_CHAINS]);
  });
  return writing;
}

/** Where the namespace's `net.ipv4.ip_early_demux` is written: procfs, or (in a container whose /proc/sys is read-only) the node's, mounted as upstream's chart mounts it. */
const EARLY_DEMUX_PATHS = ['/proc/sys/net/ipv4/ip_early_demux', '/host/proc/sys/net/ipv4/ip_early_demux'];

/**
 * Early demux off: it would attach a proxy's socket to a client packet the node still has to route
 * to the pod's interface (where the datapath hands it to the proxy), and the kernel drops forwarded
 * packets that carry a socket. Throws naming the setting when no path takes the write.
 */
async function disableEarlyDemux(): Promise<void> {
  const errors: string[] = [];
  for (const path of EARLY_DEMUX_PATHS) {
    try {
      await writeFile(path, '0');
      return;
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message}`);
    }
  }
  throw new Error(`net.ipv4.ip_early_demux must be 0 for the L7 proxies: ${errors.join('; ')}`);
}

/** `ip rule` and the local route of {@link PROXY_ROUTE_TABLE}, added when missing, and early demux off. */
async function ensureProxyRouting(): Promise<void> {
  await disableEarlyDemux();
  const rules = await run('ip', ['-4', 'rule', 'show', 'pref', String(PROXY_RULE_PRIORITY)]);
  if (!rules.includes(`lookup ${PROXY_ROUTE_TABLE}`)) {
    await run('ip', ['-4', 'rule', 'add', 'fwmark', `0x${MARK_MAGIC_TO_PROXY.toString(16)}/0xf00`, 'lookup', String(PROXY_ROUTE_TABLE), 'pref', String(PROXY_RULE_PRIORITY)]);
  }
  await run('ip', ['-4', 'route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(PROXY_ROUTE_TABLE)]);
}
