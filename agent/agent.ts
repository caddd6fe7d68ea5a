/**
 * A node's agent, configured as upstream's (agent/config/): keeps caches of Nodes and, in
 * cluster-pool IPAM once the cilium.io CRDs are served, CiliumNodes; installs native routes to the
 * other nodes' pod CIDRs and masquerades pod traffic leaving the cluster; serves the CNI plugin on
 * its root-only socket with host-local IPAM from this node's pod CIDRs; enforces policy and
 * services in the node's datapath; runs the DNS proxy (rules.dns, toFQDNs) and starts and supervises
 * the HTTP proxy's process (rules.http). It runs in the node's network namespace (a host-network pod).
 */
import { Registry } from 'prom-client';
import { HttpEndpoint, metricsRoutes } from '../runtime/http-endpoint.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { Logger } from '../runtime/logger.ts';
import { Manager } from '../runtime/manager.ts';
import { readEventStats } from '../datapath/maps/metrics.ts';
import { probeEndpointDatapath } from '../datapath/probe.ts';
import { serveCni } from './cni-server.ts';
import type { AgentConfig } from './config/parse.ts';
import { agentKubeConfig } from './config/credentials.ts';
import { agentPinRoot } from './config/paths.ts';
import { createEnforcement } from './enforcement.ts';
import { agentDnsProxy } from './dns-proxy.ts';
import { FQDN_CACHE_FILE } from './fqdn-cache-file.ts';
import { DnsRcode } from '../envoy/dns/message.ts';
import { defaultProxyPort } from '../policy/endpoint-policy.ts';
import { kernelHealthRoutes } from './kernel-health-routes.ts';
import { AGENT_API_SOCKET, policyRoutes } from './policy-api.ts';
import { join } from 'node:path';
import { EndpointManager } from './endpoints.ts';
import { flowEventsRunnable, flowLogSink, type FlowSink } from './flow-log.ts';
import { agentHubble } from './hubble.ts';
import { httpFlowEntries } from './http-flow.ts';
import { hubbleMetricsFromConfig } from './hubble-metrics-setup.ts';
import { healthEndpoint } from './node-setup/health.ts';
import { cniConfWriter } from './node-setup/cni-conf-writer.ts';
import { setNetworkUnavailable } from './node-setup/node-condition.ts';
import { setEndpointHooks } from './hooks.ts';
import { isCgroup2Dir, NodeUnusableError, requireBpffs, requireDatapathSupport } from './host-checks.ts';
import { deviceWithAddress } from './netdev-attach.ts';
import { nodeInternalIP } from './node-address.ts';
import { nodeNetworking } from './node-networking.ts';
import { httpProxySupervisor } from '../envoy/http/proxy-supervisor.ts';
import type { HttpFlowRecord } from '../envoy/http/proxy.ts';

/**
 * Runs the agent until `signal` aborts. Throws a ConfigError for what its configuration
 * cannot provide (no credentials), a {@link NodeUnusableError} for what its node lacks (no BPF
 * filesystem at `bpf-root`, a kernel that refuses its datapath, no device with the node's address),
 * both before it changes anything.
 */
export async function runAgent(cfg: AgentConfig, log: Logger, signal: AbortSignal): Promise<void> {
  requireBpffs(cfg.bpfRoot);
  requireDatapathSupport(probeEndpointDatapath);
  const kc = agentKubeConfig(cfg.kubeconfig, process.env);
  const nodeIP = cfg.nodeIP ?? (await nodeInternalIP(kubeRequester(kc), cfg.nodeName, log, signal));
  if (!nodeIP) return;
  const device = deviceWithAddress(nodeIP);
  if (!device) throw new NodeUnusableError('ipv4-node', `no interface of this node holds the node address ${nodeIP}`);
  log.info('node address', { nodeIP, device: device.name, network: device.network, clusterName: cfg.clusterName, clusterId: cfg.clusterId });

  // The node's place in the network: Nodes (and CiliumNodes), its pod CIDRs, routes and masquerading.
  const networking = nodeNetworking({ kc, cfg, device, log });
  const { nodes } = networking;
  const endpoints = new EndpointManager(cfg.stateDir, networking.podCIDRs, log.child({ component: 'endpoints' }));
  const server = await serveCni(cfg.socketPath, (req) => endpoints.handle(req));
  signal.addEventListener('abort', () => server.close(), { once: true });
  log.info('CNI socket listening', { socket: cfg.socketPath });

  const socketLb = cfg.kubeProxyReplacement && isCgroup2Dir(cfg.cgroupRoot);
  if (cfg.kubeProxyReplacement && !socketLb) {
    log.warn('cgroup-root is not a cgroup v2 directory; Services are translated per packet only', { cgroupRoot: cfg.cgroupRoot });
  }
  const registry = new Registry();
  // Policy enforcement: CNI ADD answers only once the pod's identity and policy are in the kernel.
  const enforcement = createEnforcement({
    kc, nodeName: cfg.nodeName, nodeIP, pinRoot: agentPinRoot(cfg.bpfRoot, cfg.nodeName), stateDir: cfg.stateDir,
    clusterName: cfg.clusterName, clusterId: cfg.clusterId, enforcementMode: cfg.enforcementMode, labels: cfg.labels,
    policyMapMax: cfg.policyMapMax, k8sNetworkPolicy: cfg.k8sNetworkPolicy, lbAlgorithm: cfg.lbAlgorithm,
    cidrMatchesEndpoints: cfg.cidrMatchesPods, fqdnCache: cfg.fqdn,
    log: log.child({ component: 'enforcement' }), nodes, registry,
    // Without kube-proxy replacement, pods still reach ClusterIPs through their own programs (as upstream).
    ...(cfg.kubeProxyReplacement ? {} : { nodeDevice: false as const }),
    ...(socketLb ? { socketLbCgroup: cfg.cgroupRoot } : {}),
  });
  setEndpointHooks(enforcement.hooks);
  const hubbleMetrics = cfg.hubble ? hubbleMetricsFromConfig(cfg, log) : undefined;
  const hubble = cfg.hubble ? agentHubble({
    nodeName: cfg.nodeName, clusterName: cfg.clusterName, nodeIP, socketPath: cfg.hubbleSocketPath, listen: cfg.hubbleListen,
    capacity: cfg.hubbleEventBufferCapacity, enforcer: enforcement.enforcer, engine: enforcement.engine, ceps: enforcement.ceps, nodes,
    pods: enforcement.pods, slices: enforcement.slices,
    log: log.child({ component: 'hubble' }), ...(hubbleMetrics ? { metrics: hubbleMetrics.metrics } : {}),
    kernelLost: () => readEventStats(enforcement.enforcer.sharedMaps.eventStats).lost,
    fqdnNames: (ip) => enforcement.feed.fqdnCache.namesOf(ip),
  }) : undefined;
  // Flow events go to the Hubble server and, when asked, the flow log.
  const flowSinks: FlowSink[] = [...(hubble ? [hubble.sink] : []), ...(cfg.flowLogPath ? [flowLogSink(cfg.flowLogPath, cfg.nodeName, log)] : [])];
  // The DNS proxy on the port DNS redirect entries carry: rules.dns, toFQDNs, DNS flows.
  const dnsProxy = agentDnsProxy({
    port: defaultProxyPort('dns', 'egress'), redirect: true, engine: enforcement.engine, feed: enforcement.feed, enforcer: enforcement.enforcer,
    nodeName: cfg.nodeName, log: log.child({ component: 'dns-proxy' }), responseMaxDelayMs: cfg.fqdn.responseMaxDelayMs,
    statePath: join(cfg.stateDir, FQDN_CACHE_FILE),
    rejectRcode: cfg.fqdn.rejectResponse === 'nameError' ? DnsRcode.NXDOMAIN : DnsRcode.REFUSED,
    ...(hubble ? { hubble: { ring: hubble.ring, ends: hubble.ends } } : {}),
  });
  // The node's HTTP proxy, enforcing the L7 rules the datapath redirects to it (world when unknown).
  // It runs as a process of its own, which outlives this agent (started by the agent, or with
  // external-envoy-proxy the chart's cilium-envoy DaemonSet's); the pinned ipcache gives it identities.
  const httpFlowEntry = hubble && httpFlowEntries(hubble.ends);
  const httpProxy = httpProxySupervisor({
    table: enforcement.l7Policies, log: log.child({ component: 'http-proxy' }), stateDir: cfg.stateDir, pinRoot: agentPinRoot(cfg.bpfRoot, cfg.nodeName),
    external: cfg.externalEnvoyProxy, upstreamLingerSeconds: cfg.httpUpstreamLingerSeconds,
    ...(hubble && httpFlowEntry ? { onFlow: (r: HttpFlowRecord) => hubble.ring.push(httpFlowEntry(r, defaultProxyPort('http', r.direction))) } : {}),
  });
  const manager = new Manager({ log }).addCache(nodes);
  for (const c of networking.controllers) manager.add(c);
  // Metrics (controllers, work queues, kernel tables and map pressure) and the kernel tables' health where `prometheus-serve-addr` says.
  if (cfg.prometheus) {
    manager.add(new HttpEndpoint('metrics', cfg.prometheus, {
      ...metricsRoutes(registry), ...kernelHealthRoutes(enforcement.kernel),
      // Each endpoint's desired L7 policy version and what each proxy acknowledged.
      '/l7-policy': async () => ({ status: 200, type: 'application/json', body: JSON.stringify(enforcement.l7Policies.status(), null, 1) + '\n' }),
    }, log));
  }
  // The local API (policy revisions, read-your-writes) on a root-only socket in the state folder.
  const api = new HttpEndpoint('API', { path: join(cfg.stateDir, AGENT_API_SOCKET) }, policyRoutes(enforcement.revisions), log);
  manager.add({ needLeaderElection: false, start: (s) => api.start(s).catch((err: unknown) => log.warn('local API not served', { err: (err as Error).message })) });
  for (const c of enforcement.caches) manager.addCache(c);
  for (const r of enforcement.runnables) manager.add(r);
  if (flowSinks.length) manager.add(flowEventsRunnable(enforcement.enforcer, flowSinks, log, enforcement.started));
  if (hubble) manager.add(hubble.runnable);
  manager.add(dnsProxy);
  manager.add(httpProxy);
  if (hubbleMetrics) manager.add(hubbleMetrics.endpoint);
  const health = healthEndpoint(cfg.healthPort, { caches: [nodes, ...enforcement.caches] }, log);
  if (health) manager.add(health);
  if (cfg.cniConf) manager.add(cniConfWriter(cfg.cniConf, cfg.socketPath, log, () => setNetworkUnavailable(kubeRequester(kc), cfg.nodeName, undefined)));
  // Endpoints from before a restart: their pinned state keeps enforcing until this recomputes it.
  void enforcement.restore(endpoints.endpoints());
  try {
    await Promise.all([manager.start(signal), networking.followCiliumNodes(signal)]);
  } finally {
    server.close();
    enforcement.close();
  }
}
