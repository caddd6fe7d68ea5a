/**
 * A node's agent, configured as upstream's (agent/config/): keeps caches of Nodes and, in
 * cluster-pool IPAM once the cilium.io CRDs are served, CiliumNodes; installs native routes to the
 * other nodes' pod CIDRs and masquerades pod traffic leaving the cluster; serves the CNI plugin on
 * its root-only socket with host-local IPAM from this node's pod CIDRs; and enforces policy and
 * services in the node's datapath. It runs in the node's network namespace (a host-network pod).
 */
import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { realClock, sleep } from '../runtime/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { HttpEndpoint, metricsRoutes } from '../runtime/http-endpoint.ts';
import type { Informer } from '../runtime/informer.ts';
import { kubeInformer } from '../runtime/kube-list-watch.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { Logger } from '../runtime/logger.ts';
import { Manager } from '../runtime/manager.ts';
import { ConfigError } from '../runtime/settings.ts';
import { readEventStats } from '../datapath/maps/metrics.ts';
import { serveCni } from './cni-server.ts';
import type { AgentConfig } from './config/parse.ts';
import { agentKubeConfig } from './config/credentials.ts';
import { agentPinRoot } from './config/paths.ts';
import { createEnforcement } from './enforcement.ts';
import { kernelHealthRoutes } from './kernel-health-routes.ts';
import { EndpointManager } from './endpoints.ts';
import { flowLogSink, type FlowSink } from './flow-log.ts';
import { agentHubble } from './hubble.ts';
import { httpFlowEntry } from './http-flow.ts';
import { hubbleMetricsFromConfig } from './hubble-metrics-setup.ts';
import { healthEndpoint } from './node-setup/health.ts';
import { cniConfWriter } from './node-setup/cni-conf-writer.ts';
import { setEndpointHooks } from './hooks.ts';
import { isCgroup2Dir, onBpffs } from './host-checks.ts';
import { masqueradeReconciler } from './masquerade.ts';
import { deviceWithAddress } from './netdev-attach.ts';
import { nodeInternalIP } from './node-address.ts';
import { podCIDRsOf, type CiliumNodeLike } from './pod-cidrs.ts';
import { CILIUM_NODE_REF, NODE_REF } from './resources.ts';
import { routeReconciler } from './routes.ts';
import { nodeHttpProxy } from '../envoy/http/node-proxy.ts';
import type { HttpFlowRecord } from '../envoy/http/proxy.ts';
import { defaultProxyPort } from '../policy/endpoint-policy.ts';
import { ReservedIdentity } from '../identity/numeric.ts';

/** Whether the apiserver serves cilium.io/v2 ciliumnodes. */
async function ciliumNodesServed(kc: KubeConfig): Promise<boolean> {
  try {
    const list = (await kubeRequester(kc)({ method: 'GET', path: '/apis/cilium.io/v2' })) as { resources?: { name: string }[] };
    return Boolean(list.resources?.some((r) => r.name === 'ciliumnodes'));
  } catch {
    return false;
  }
}

/** How often the agent looks for the cilium.io CRDs until they are installed. */
const CRD_POLL_MS = 5000;

/**
 * Runs the agent until `signal` aborts. Throws a {@link ConfigError} for what its configuration or
 * host cannot provide (no BPF filesystem at `bpf-root`, no credentials, no device with the node's
 * address).
 */
export async function runAgent(cfg: AgentConfig, log: Logger, signal: AbortSignal): Promise<void> {
  if (!onBpffs(cfg.bpfRoot)) throw new ConfigError('bpf-root', `${cfg.bpfRoot} is not on a BPF filesystem (mount -t bpf bpf ${cfg.bpfRoot})`);
  const kc = agentKubeConfig(cfg.kubeconfig, process.env);
  const nodeIP = cfg.nodeIP ?? (await nodeInternalIP(kubeRequester(kc), cfg.nodeName, log, signal));
  if (!nodeIP) return;
  const device = deviceWithAddress(nodeIP);
  if (!device) throw new ConfigError('ipv4-node', `no interface of this node holds the node address ${nodeIP}`);
  log.info('node address', { nodeIP, device: device.name, network: device.network, clusterName: cfg.clusterName, clusterId: cfg.clusterId });

  const nodes = kubeInformer<V1Node>(kc, NODE_REF, {}, { log });
  // Set once the cilium.io CRDs are served (they may be installed after the cluster starts); cluster-pool IPAM only.
  let ciliumNodes: Informer<CiliumNodeLike> | undefined;
  const ciliumNodeLookup = { get: (k: string) => ciliumNodes?.get(k), list: () => ciliumNodes?.list() ?? [] };
  const podCIDRs = () => podCIDRsOf(cfg.nodeName, nodes, ciliumNodes);
  const endpoints = new EndpointManager(cfg.stateDir, podCIDRs, log.child({ component: 'endpoints' }));
  const server = await serveCni(cfg.socketPath, (req) => endpoints.handle(req));
  signal.addEventListener('abort', () => server.close(), { once: true });
  log.info('CNI socket listening', { socket: cfg.socketPath });

  const nodeControllers: Controller[] = [];
  if (cfg.autoDirectNodeRoutes) {
    nodeControllers.push(new Controller({
      name: 'routes', log, needLeaderElection: false,
      reconciler: routeReconciler(cfg.nodeName, device.network, device.name, nodes, ciliumNodeLookup, log.child({ component: 'routes' })),
    }).watches(nodes, () => ['routes']));
  }
  if (cfg.masquerade) {
    nodeControllers.push(new Controller({
      name: 'masquerade', log, needLeaderElection: false,
      reconciler: masqueradeReconciler(cfg.nodeName, nodes, ciliumNodeLookup, cfg.nativeRoutingCIDR, log.child({ component: 'masquerade' })),
    }).watches(nodes, () => ['masquerade']));
  }
  const watchCiliumNodes = async () => {
    if (cfg.ipam !== 'cluster-pool') return;
    while (!signal.aborted && !(await ciliumNodesServed(kc))) {
      await sleep(realClock, CRD_POLL_MS, signal);
    }
    if (signal.aborted) return;
    const informer = kubeInformer<CiliumNodeLike>(kc, CILIUM_NODE_REF, {}, { log });
    const running = informer.start(signal);
    if (await informer.waitForSync(signal)) {
      ciliumNodes = informer;
      for (const c of nodeControllers) c.watches(informer, () => [c.name]);
      log.info('using CiliumNode pod CIDRs when present');
    }
    await running;
  };

  const socketLb = cfg.kubeProxyReplacement && isCgroup2Dir(cfg.cgroupRoot);
  if (cfg.kubeProxyReplacement && !socketLb) {
    log.warn('cgroup-root is not a cgroup v2 directory; Services are translated per packet only', { cgroupRoot: cfg.cgroupRoot });
  }
  const registry = new Registry();
  // Flow events go to the Hubble server (made once enforcement's caches exist) and, when asked, the flow log.
  const late: { hubble?: FlowSink } = {};
  const flowSinks: FlowSink[] = [
    ...(cfg.hubble ? [(flows: Parameters<FlowSink>[0]) => late.hubble?.(flows)] : []),
    ...(cfg.flowLogPath ? [flowLogSink(cfg.flowLogPath, cfg.nodeName, log)] : []),
  ];
  // Policy enforcement: CNI ADD answers only once the pod's identity and policy are in the kernel.
  const enforcement = createEnforcement({
    kc, nodeName: cfg.nodeName, nodeIP, pinRoot: agentPinRoot(cfg.bpfRoot, cfg.nodeName), stateDir: cfg.stateDir,
    clusterName: cfg.clusterName, clusterId: cfg.clusterId, enforcementMode: cfg.enforcementMode, labels: cfg.labels,
    policyMapMax: cfg.policyMapMax, k8sNetworkPolicy: cfg.k8sNetworkPolicy, lbAlgorithm: cfg.lbAlgorithm,
    cidrMatchesEndpoints: cfg.cidrMatchesPods,
    log: log.child({ component: 'enforcement' }), nodes, registry,
    flowSinks,
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
  }) : undefined;
  if (hubble) late.hubble = hubble.sink;
  // The node's HTTP proxy, enforcing the L7 rules the datapath redirects to it (world when unknown).
  const httpProxy = nodeHttpProxy({
    table: enforcement.l7Policies, log: log.child({ component: 'http-proxy' }),
    identityOf: (ip) => enforcement.enforcer.ipcache.resolve(ip)?.identity ?? ReservedIdentity.world,
    ...(hubble ? { onFlow: (r: HttpFlowRecord) => hubble.ring.push(httpFlowEntry(r, hubble.ends, defaultProxyPort('http', r.direction))) } : {}),
  });
  const manager = new Manager({ log }).addCache(nodes);
  for (const c of nodeControllers) manager.add(c);
  // Metrics (controllers, work queues, kernel tables and map pressure) and the kernel tables' health where `prometheus-serve-addr` says.
  if (cfg.prometheus) {
    manager.add(new HttpEndpoint('metrics', cfg.prometheus, {
      ...metricsRoutes(registry), ...kernelHealthRoutes(enforcement.kernel),
      // Each endpoint's desired L7 policy version and what each proxy acknowledged.
      '/l7-policy': async () => ({ status: 200, type: 'application/json', body: JSON.stringify(enforcement.l7Policies.status(), null, 1) + '\n' }),
    }, log));
  }
  for (const c of enforcement.caches) manager.addCache(c);
  for (const r of enforcement.runnables) manager.add(r);
  if (hubble) manager.add(hubble.runnable);
  manager.add(httpProxy);
  if (hubbleMetrics) manager.add(hubbleMetrics.endpoint);
  const health = healthEndpoint(cfg.healthPort, { caches: [nodes, ...enforcement.caches] }, log);
  if (health) manager.add(health);
  if (cfg.cniConf) manager.add(cniConfWriter(cfg.cniConf, cfg.socketPath, log));
  // Endpoints from before a restart: their pinned state keeps enforcing until this recomputes it.
  void enforcement.restore(endpoints.endpoints());
  try {
    await Promise.all([manager.start(signal), watchCiliumNodes()]);
  } finally {
    server.close();
    enforcement.close();
  }
}
