/**
 * The agent's DNS proxy (envoy/dns/) and what it needs from the node:
 *   - a query's endpoint is the local endpoint holding its source address, its server's identity
 *     the ipcache's (longest prefix) for the address the query was sent to, and the decision the
 *     endpoint's computed policy gives that packet (its `rules.dns`, see envoy/dns/rules.ts);
 *   - an answer's A/AAAA records go into the policy feed's FQDN cache under the query name and
 *     the names the answer's CNAMEs lead to, so `toFQDNs` selectors select the addresses; the
 *     answer is released once the ipcache and the asking endpoint's policy map hold the change, or
 *     after `tofqdns-proxy-response-max-delay`, as upstream;
 *   - every query and answer becomes an L7 flow in the node's Hubble ring;
 *   - the FQDN cache is garbage-collected periodically (upstream: every minute) and saved for the
 *     next agent (`statePath`).
 * The proxy listens on the DNS proxy port redirect entries carry. A proxy that cannot listen is
 * logged and tried again; the agent keeps running (DNS redirected to it goes unanswered meanwhile,
 * as with upstream's agent without its proxy).
 */
import type { DnsMessage } from '../envoy/dns/message.ts';
import { DnsType } from '../envoy/dns/message.ts';
import { type DnsExchange, DnsProxy, type DnsProxyRecord, type DnsPeer, type DnsUdpListener } from '../envoy/dns/proxy.ts';
import { decideDnsQuery } from '../envoy/dns/rules.ts';
import { transparentUdpListener } from '../envoy/dns/transparent-udp.ts';
import { MARK_MAGIC_PROXY_EGRESS } from '../envoy/proxy-marks.ts';
import { TransparentRedirect } from '../envoy/tproxy.ts';
import { native } from '../datapath/native.ts';
import { closeSync } from 'node:fs';
import type { FlowRing } from '../hubble/ring.ts';
import { ReservedIdentity } from '../identity/numeric.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { PROTOCOL_NUMBERS } from '../policy/mapstate-types.ts';
import { sleep, realClock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import { type DnsFlowEnds, toDnsFlow } from './dns-flow.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import { fqdnCacheSaver } from './fqdn-cache-file.ts';
import { flowEndpoints, type FlowEndpointSource } from './hubble.ts';
import type { IpcacheSync } from './ipcache-sync.ts';
import type { PolicyFeed } from './policy-feed.ts';

/** Upstream's FQDN garbage collection interval. */
export const FQDN_GC_INTERVAL_MS = 60_000;
/** How long to wait before listening again after a failure. */
const LISTEN_RETRY_MS = 5000;
/** Upstream's default `tofqdns-proxy-response-max-delay`. */
export const DEFAULT_RESPONSE_MAX_DELAY_MS = 100;

/** What the agent's DNS proxy is built from. */
export interface AgentDnsProxyOptions {
  /** The DNS proxy port (the one redirect entries carry; 0: any free port, for tests). */
  port: number;
  /** Listening address; default all. */
  host?: string;
  engine: Pick<PolicyEngine, 'verdict'>;
  feed: Pick<PolicyFeed, 'dnsAnswer' | 'fqdnGc' | 'fqdnCache'>;
  /** Where the FQDN cache is saved for the next agent (see fqdn-cache-file.ts); undefined: not saved. */
  statePath?: string;
  enforcer: Pick<EndpointEnforcer, 'endpoints'> & { ipcache: Pick<IpcacheSync, 'resolve' | 'table' | 'reconciler'> };
  /** The node's Hubble ring and what it knows of flow ends; undefined: no flows. */
  hubble?: { ring: FlowRing; ends: FlowEndpointSource };
  nodeName: string;
  log: Logger;
  /** `tofqdns-dns-reject-response-code` as an rcode (default REFUSED). */
  rejectRcode?: number;
  /** `tofqdns-proxy-response-max-delay`. */
  responseMaxDelayMs?: number;
  gcIntervalMs?: number;
  /** The UDP listener; default a transparent one (see {@link transparentUdp}), else a plain socket. */
  udp?: DnsUdpListener;
  /**
   * Without `udp`: listen on UDP with a transparent socket (IP_TRANSPARENT, original destinations),
   * as the datapath's redirect needs; a plain socket when the node refuses one (logged).
   */
  transparentUdp?: boolean;
  /**
   * Join the datapath's transparent redirect: transparent UDP and TCP listeners whose answers carry
   * the egress proxy's mark (so the datapath does not hand them back to the proxy), registered
   * with the node's TPROXY chain. Overrides `udp`, `transparentUdp` and `tcpFd`.
   */
  redirect?: boolean;
  /** A transparent TCP listening socket to adopt (the datapath redirect); default a plain one. */
  tcpFd?: number;
  /** Every query to this server instead of its original destination (no redirect). */
  upstream?: DnsPeer;
  /** The current time (ms since the epoch). */
  now?: () => number;
}

/** A transparent UDP listener on every address's `port`, or undefined (a plain one) when the node refuses it. */
function transparentOrPlain(port: number, log: Logger): DnsUdpListener | undefined {
  try {
    return transparentUdpListener('', port);
  } catch (err) {
    log.warn('no transparent UDP socket for the DNS proxy; a plain one cannot serve redirected queries', { port, err: (err as Error).message });
    return undefined;
  }
}

/** The proxy's listeners in the datapath's redirect: transparent UDP and TCP on `port`, marked, and the TPROXY chain holding both. */
async function redirectListeners(port: number): Promise<{ udp: DnsUdpListener; tcpFd: number }> {
  const udp = transparentUdpListener('', port, MARK_MAGIC_PROXY_EGRESS);
  let tcpFd: number | undefined;
  try {
    tcpFd = native().transparentListen('0.0.0.0', port, 'tcp', MARK_MAGIC_PROXY_EGRESS);
    await new TransparentRedirect().add([{ port, proto: 'udp' }, { port, proto: 'tcp' }]);
    return { udp, tcpFd };
  } catch (err) {
    udp.close();
    if (tcpFd !== undefined) closeSync(tcpFd);
    throw err;
  }
}

/** The identity the ipcache gives an IPv4 address (longest prefix; world when none). */
export function ipcacheIdentity(ipcache: Pick<IpcacheSync, 'resolve'>, ip: string): number {
  return ipcache.resolve(ip)?.identity ?? ReservedIdentity.world;
}

/** The names an answer's addresses are known by: the query name and every name of its CNAME chain. */
export function answerRecords(query: DnsMessage, response: DnsMessage): Map<string, { ip: string; ttl: number }[]> {
  const qname = query.questions[0]?.name.toLowerCase() ?? '';
  const out = new Map<string, { ip: string; ttl: number }[]>();
  const addresses = response.answers.filter((a) => (a.type === DnsType.A || a.type === DnsType.AAAA) && a.address !== undefined);
  if (addresses.length === 0) return out;
  const chain = response.answers.filter((a) => a.type === DnsType.CNAME).flatMap((a) => [a.name, a.target ?? a.name]);
  const names = new Set([qname, ...chain, ...addresses.map((a) => a.name)].map((n) => n.toLowerCase()));
  for (const n of names) out.set(n, addresses.map((a) => ({ ip: a.address!, ttl: a.ttl })));
  return out;
}

/** The DNS proxy as a runnable of the agent's Manager. */
export function agentDnsProxy(o: AgentDnsProxyOptions): Runnable & { proxy(): DnsProxy | undefined } {
  const now = o.now ?? Date.now;
  const saver = o.statePath ? fqdnCacheSaver(o.statePath, o.feed.fqdnCache, o.log) : undefined;
  const endpointAt = (ip: string) => o.enforcer.endpoints().find((e) => e.request.ip === ip);
  const decide = (x: DnsExchange, q: DnsMessage) => {
    const ep = endpointAt(x.source.address);
    if (!ep) return { allowed: false, origins: [] };
    const v = o.engine.verdict(ep.id, {
      direction: 'egress', remoteIdentity: ipcacheIdentity(o.enforcer.ipcache, x.destination.address),
      protocol: x.protocol === 'udp' ? PROTOCOL_NUMBERS.UDP : PROTOCOL_NUMBERS.TCP, port: x.destination.port,
    });
    return decideDnsQuery(v, q.questions[0]!.name);
  };
  const answered = async (x: DnsExchange, q: DnsMessage, r: DnsMessage) => {
    const byName = answerRecords(q, r);
    if (byName.size === 0) return;
    for (const [name, records] of byName) o.feed.dnsAnswer(name, records, now());
    saver?.schedule();
    // Released when the kernel holds the change, or after the maximum delay; at once when it
    // already does (an answer that added nothing, or a change the reconcilers wrote synchronously).
    const ep = endpointAt(x.source.address);
    const ipcache = o.enforcer.ipcache;
    const ipcacheHeld = !ipcache.table.pendingUpTo(ipcache.table.revision);
    const policyHeld = !ep || !ep.policy.table.pendingUpTo(ep.policy.table.revision);
    if (ipcacheHeld && policyHeld) return;
    const written = Promise.all([
      ipcacheHeld ? undefined : ipcache.reconciler.waitUntilReconciled(ipcache.table),
      policyHeld ? undefined : ep.policy.reconciler.waitUntilReconciled(ep.policy.table),
    ]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, o.responseMaxDelayMs ?? DEFAULT_RESPONSE_MAX_DELAY_MS)));
    try {
      await Promise.race([written, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  /** The flow ends of a query, looked up once for its request and answer records. */
  const endsOf = new WeakMap<DnsMessage, DnsFlowEnds>();
  const record = o.hubble && ((r: DnsProxyRecord) => {
    const { ring, ends } = o.hubble!;
    let both = endsOf.get(r.query);
    if (!both) {
      const endOf = flowEndpoints(ends);
      const { source, destination } = r.exchange;
      both = {
        client: endOf(source.address, endpointAt(source.address)?.identity ?? ipcacheIdentity(o.enforcer.ipcache, source.address)),
        server: endOf(destination.address, ipcacheIdentity(o.enforcer.ipcache, destination.address)),
      };
      if (r.type === 'request') endsOf.set(r.query, both);
    } else if (r.type === 'response') endsOf.delete(r.query);
    ring.push(toDnsFlow(r, both, { nodeName: o.nodeName, proxyPort: running?.port ?? o.port }));
  });
  let running: DnsProxy | undefined;
  return {
    needLeaderElection: false,
    proxy: () => running,
    async start(signal) {
      while (!running) {
        let udp: DnsUdpListener | undefined;
        let tcpFd = o.tcpFd;
        try {
          if (o.redirect) ({ udp, tcpFd } = await redirectListeners(o.port));
          else udp = o.udp ?? (o.transparentUdp ? transparentOrPlain(o.port, o.log) : undefined);
          running = await DnsProxy.start({
            port: o.port, ...(o.host ? { host: o.host } : {}), ...(udp ? { udp } : {}), ...(tcpFd !== undefined ? { tcpFd } : {}),
            ...(o.upstream ? { upstream: o.upstream } : {}), ...(o.rejectRcode !== undefined ? { rejectRcode: o.rejectRcode } : {}),
          }, {
            decide, answered, ...(record ? { record } : {}),
            warn: (message, fields) => o.log.warn(message, fields),
          });
        } catch (err) {
          if (udp !== o.udp) udp?.close();
          o.log.error('DNS proxy could not listen; retrying (DNS redirected to it goes unanswered meanwhile)', { port: o.port, err: (err as Error).message });
          if (!(await sleep(realClock, LISTEN_RETRY_MS, signal))) return;
        }
      }
      o.log.info('DNS proxy listening', { port: running.port });
      while (await sleep(realClock, o.gcIntervalMs ?? FQDN_GC_INTERVAL_MS, signal)) {
        o.feed.fqdnGc(now());
        saver?.schedule();
      }
      running.close();
      saver?.flush();
      running = undefined;
    },
  };
}
