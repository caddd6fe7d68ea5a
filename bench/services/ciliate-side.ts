/**
 * The Ciliate side of the services bench: a one-node local cluster (unique name, own state folder)
 * with a server pod running the load generator's server and an idle client pod whose network
 * namespace the clients run in; plus what the bench reads from it: the node's kernel LB map and the
 * agent's process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { up, down, type RunningCluster } from '../../cluster/cluster.ts';
import { nodePinRoot } from '../../cluster/node-config.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { readState } from '../../cluster/state.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { LB_CODECS } from '../../datapath/maps/lb.ts';
import { numberToIpv4 } from '../../datapath/net.ts';
import { kubeRequester, type KubeRequester } from '../../runtime/kube-request.ts';
import { serverCommand } from './loadgen.ts';
import type { Teardown } from './teardown.ts';

/** The bench's namespace. */
export const BENCH_NS = 'svcbench';
/** The port the server listens on (each Service's targetPort). */
export const SERVER_PORT = 8080;

/** The running Ciliate side. */
export interface CiliateSide {
  cluster: RunningCluster;
  request: KubeRequester;
  client: PodEndpoint;
  server: PodEndpoint;
  /** The server process (CPU accounting). */
  serverPid: number;
  /** The node agent's process (CPU accounting), as the supervisor last recorded it. */
  agentPid(): number | undefined;
  /** ClusterIPs that have a frontend with at least one backend in the node's kernel LB map. */
  lbFrontends(): Set<string>;
}

function pod(name: string, labels: Record<string, string>, command: string[]): unknown {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'main', image: 'ignored', command }], terminationGracePeriodSeconds: 1 } };
}

/** Waits until pod `name` runs and the agent has its endpoint; returns the endpoint and the container's pid. */
async function runningPod(c: RunningCluster, request: KubeRequester, name: string): Promise<{ ep: PodEndpoint; pid: number }> {
  for (let i = 0; i < 600; i++) {
    const p = (await request({ method: 'GET', path: `/api/v1/namespaces/${BENCH_NS}/pods/${name}` })) as {
      status?: { phase?: string; podIP?: string; containerStatuses?: Array<{ containerID?: string }> };
    };
    const ep = podEndpoints(c.config).find((e) => e.namespace === BENCH_NS && e.name === name);
    const pid = Number(p.status?.containerStatuses?.[0]?.containerID?.replace('ciliate://', ''));
    if (p.status?.phase === 'Running' && ep && p.status.podIP === ep.ip && pid > 0) return { ep, pid };
    await sleep(100);
  }
  throw new Error(`pod ${BENCH_NS}/${name} did not start in 60 s`);
}

/** Starts the cluster (registered for teardown at once) and the two pods. */
export async function startCiliateSide(opts: { name: string; stateRoot: string; loadgen: string; serverCpu: number; teardown: Teardown }): Promise<CiliateSide> {
  opts.teardown.add(`cluster ${opts.name}`, () => down({ name: opts.name, stateRoot: opts.stateRoot, quiet: true }));
  const cluster = await up({ name: opts.name, stateRoot: opts.stateRoot, nodes: 1, operator: true, runtime: 'runner', quiet: true });
  // The apiserver's own address on the bridge, not the supervisor's loopback forwarder: thousands of
  // creates in a row should not depend on one more process relaying them.
  const kc = new KubeConfig();
  const { gateway } = cluster.config.network;
  kc.loadFromString(readFileSync(cluster.kubeconfig, 'utf8').replace(/server: .*/, `server: https://${gateway}:${cluster.config.ports.apiserver}`));
  const request = kubeRequester(kc);
  await request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: BENCH_NS } } });
  for (let i = 0; i < 100; i++) { // pods need the namespace's default ServiceAccount
    const sa = await request({ method: 'GET', path: `/api/v1/namespaces/${BENCH_NS}/serviceaccounts/default` }).catch(() => undefined);
    if (sa) break;
    await sleep(100);
  }
  const podsPath = `/api/v1/namespaces/${BENCH_NS}/pods`;
  await request({ method: 'POST', path: podsPath, body: pod('server', { app: 'svcbench-server' }, serverCommand(opts.loadgen, SERVER_PORT, opts.serverCpu)) });
  await request({ method: 'POST', path: podsPath, body: pod('client', { app: 'svcbench-client' }, ['sleep', 'infinity']) });
  const server = await runningPod(cluster, request, 'server');
  const client = await runningPod(cluster, request, 'client');
  const node = cluster.config.nodes![0]!;
  const pinRoot = nodePinRoot(cluster.name, node.name);
  const statePath = clusterPaths(opts.name, opts.stateRoot).state;
  return {
    cluster, request, client: client.ep, server: server.ep, serverPid: server.pid,
    agentPid: () => readState(statePath)?.components[`agent-${node.name}`]?.pid,
    lbFrontends() {
      using services = BpfMap.openPinned(join(pinRoot, 'cilium_lb4_services_v2'), LB_CODECS.serviceKey, LB_CODECS.service);
      const out = new Set<string>();
      for (const [k, v] of services.entries()) if (k.backendSlot === 0 && v.count > 0) out.add(numberToIpv4(k.address));
      return out;
    },
  };
}
