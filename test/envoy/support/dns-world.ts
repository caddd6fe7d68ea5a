/**
 * The agent's DNS proxy on one node for tests, minus the cluster: the feed harness's endpoint
 * (policy feed, real endpoint program) at the client's address, a kube-dns identity at the DNS
 * server's address, a policy allowing `*.example.com` through the DNS proxy and toFQDNs
 * `api.example.com` on TCP 443, and `agentDnsProxy` with a Hubble ring. Also: veth pairs between
 * namespaces the test made.
 */
import { agentDnsProxy, type AgentDnsProxyOptions } from '../../../agent/dns-proxy.ts';
import type { EndpointEnforcer } from '../../../agent/endpoint-enforcer.ts';
import { FlowRing } from '../../../hubble/ring.ts';
import { sanitizePodLabels } from '../../../identity/pod-labels.ts';
import { createLogger } from '../../../runtime/logger.ts';
import { FeedHarness, WORLD } from '../../agent/support/feed-harness.ts';
import { sh } from '../../datapath/support/netns.ts';

/** The kube-dns identity the DNS server's address has. */
export const KUBE_DNS_ID = 40001;
/** The proxy's clock (ms since the epoch); answers are cached from then. */
export const T0 = 1_700_000_000_000;
/** What CoreDNS serves in these tests. */
export const HOSTS = { '198.51.100.20': 'api.example.com', '198.51.100.21': 'www.example.com', '198.51.100.22': 'blocked.test' };

/** Links namespaces `a` and `b` with a veth pair named `name`a / `name`b, addressed `ipA`/`ipB` in one /24. */
export function vethPair(name: string, a: string, ipA: string, b: string, ipB: string): void {
  const [la, lb] = [`${name}a`.slice(0, 15), `${name}b`.slice(0, 15)];
  sh('ip', 'link', 'add', la, 'netns', a, 'type', 'veth', 'peer', 'name', lb, 'netns', b);
  sh('ip', '-n', a, 'addr', 'add', `${ipA}/24`, 'dev', la);
  sh('ip', '-n', b, 'addr', 'add', `${ipB}/24`, 'dev', lb);
  for (const [ns, link] of [[a, la], [b, lb], [a, 'lo'], [b, 'lo']] as const) sh('ip', '-n', ns, 'link', 'set', link, 'up');
}

const cnp = (name: string, egress: object[]) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'default', uid: `u-${name}` },
  spec: { endpointSelector: { matchLabels: { app: WORLD.self.app } }, egress },
});

/** A node's DNS proxy with its policy path. */
export interface DnsWorld {
  readonly h: FeedHarness;
  readonly ring: FlowRing;
  /** The proxy's port. */
  readonly port: number;
  close(): void;
}

/** Starts the DNS proxy (in the calling thread's namespace) for a client at `clientIp` and a server at `dnsIp`. */
export async function startDnsWorld(
  o: { clientIp: string; dnsIp: string } & Pick<AgentDnsProxyOptions, 'port' | 'host' | 'upstream' | 'udp' | 'tcpFd' | 'transparentUdp'>,
): Promise<DnsWorld> {
  const h = new FeedHarness();
  h.engine.updateIdentities([[KUBE_DNS_ID, sanitizePodLabels({ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } })]]);
  h.ipcache.upsert('endpoint', o.dnsIp, { identity: KUBE_DNS_ID });
  h.apply(cnp('dns', [{
    toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
    toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*.example.com' }] } }],
  }]));
  h.apply(cnp('api', [{ toFQDNs: [{ matchName: 'api.example.com' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }]));
  const endpoint = { id: h.endpointId, identity: WORLD.self.identity, request: { ip: o.clientIp, podNamespace: 'default', podName: 'client', key: 'k' }, policy: h.policyMap };
  const enforcer = { endpoints: () => [endpoint], ipcache: h.ipcache } as unknown as AgentDnsProxyOptions['enforcer'] & Pick<EndpointEnforcer, 'endpoints'>;
  const ring = new FlowRing(255);
  const stop = new AbortController();
  const { clientIp: _c, dnsIp: _d, ...listen } = o;
  const runnable = agentDnsProxy({
    ...listen, engine: h.engine, feed: h.feed, enforcer,
    nodeName: 'node-a', log: createLogger({ level: 'error' }), gcIntervalMs: 3_600_000, now: () => T0,
    hubble: {
      ring,
      ends: {
        nodeName: 'node-a', clusterName: 'default', localEndpoints: () => [endpoint] as never,
        podAt: () => undefined, labelsOf: (id) => h.engine.selectorCache.identityLabels(id)?.toStrings() ?? [],
      },
    },
  });
  const done = runnable.start(stop.signal);
  while (!runnable.proxy()) {
    if (await Promise.race([done.then(() => true), new Promise((r) => setTimeout(() => r(false), 10))])) throw new Error('the DNS proxy did not start');
  }
  return {
    h, ring, port: runnable.proxy()!.port,
    close() {
      stop.abort();
      h.close();
    },
  };
}
