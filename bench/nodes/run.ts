/**
 * bench/nodes: what real nodes cost, each figure beside a baseline measured in the same run.
 * On demand: `npx tsx bench/nodes/run.ts [pods=20]`.
 *  1. Node images: every archive built into an empty cache (Go binaries already built) vs found cached.
 *  2. `cluster up --nodes 2`, warm (toolchain and images cached): real nodes vs the stand-in runner.
 *  3. RSS of each real node's kubelet, containerd and container shims, with the bench's pods running.
 *  4. Pod create -> Ready, one pod at a time on one node, with Ciliate's CNI and then with Debian's bridge
 *     plugin on the same node (the node's containerd switched to a bridge conflist), p50/p99 and ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { ensureNodeImages } from '../../cluster/images/index.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { readState } from '../../cluster/state.ts';
import { shimPids } from '../../cluster/kubelet-node/node-teardown.ts';
import { runtimePaths } from '../../cluster/kubelet-node/paths.ts';
import type { NodeRuntime } from '../../cluster/config.ts';
import { kubeRequester } from '../../runtime/kube-request.ts';
import { runBench } from '../support/cluster.ts';
import { fmt, pct, sleep } from '../support/stats.ts';
import { rssMiB } from './rss.ts';
import { useBridgeCni, BRIDGE_SUBNET } from './bridge-cni.ts';

const PODS = Number(process.argv[2] ?? 20);
const NS = 'bench';
const SHELL_IMAGE = 'docker.io/library/busybox:1.35';

/** Seconds `fn` took. */
async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** Starts a fresh two-node cluster of `runtime`, runs `fn` on it, and removes it however `fn` ends. */
async function withCluster<T>(runtime: NodeRuntime, fn: (c: RunningCluster, upSeconds: number, statePath: string) => Promise<T>): Promise<T> {
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-bench-'));
  const name = `bn${runtime[0]}${process.pid % 10000}`;
  try {
    let cluster!: RunningCluster;
    const took = await seconds(async () => (cluster = await up({ name, stateRoot, nodes: 2, operator: true, runtime, quiet: true })));
    return await fn(cluster, took, clusterPaths(name, stateRoot).state);
  } finally {
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

/** Milliseconds from each pod's create request to a watch seeing it Ready, creating one pod at a time. */
async function podStartups(kc: KubeConfig, node: string, prefix: string, count: number): Promise<{ ms: number[]; ips: string[] }> {
  const request = kubeRequester(kc);
  const ready = new Map<string, { at: number; ip: string }>();
  const watch = await new Watch(kc).watch(`/api/v1/namespaces/${NS}/pods`, {}, (_t, pod: { metadata: { name: string }; status?: { podIP?: string; conditions?: { type: string; status: string }[] } }) => {
    if (!ready.has(pod.metadata.name) && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
      ready.set(pod.metadata.name, { at: performance.now(), ip: pod.status.podIP ?? '' });
    }
  }, () => undefined);
  const ms: number[] = [];
  const ips: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `${prefix}${i}`;
      const created = performance.now();
      await request({
        method: 'POST', path: `/api/v1/namespaces/${NS}/pods`,
        body: { metadata: { name }, spec: { nodeName: node, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: SHELL_IMAGE, command: ['sleep', '3600'] }] } },
      });
      for (let t = 0; t < 1200 && !ready.has(name); t++) await sleep(5);
      const seen = ready.get(name);
      if (!seen) throw new Error(`pod ${name} not Ready within 6 s`);
      ms.push(seen.at - created);
      ips.push(seen.ip);
    }
  } finally {
    watch.abort();
  }
  return { ms, ips };
}

async function main(): Promise<void> {
  console.log(`bench/nodes: 2 nodes, ${PODS} pods per CNI, one at a time on the first node`);

  const cold = mkdtempSync(join(tmpdir(), 'ciliate-bench-images-'));
  try {
    const built = await seconds(() => ensureNodeImages({ cacheDir: cold }));
    const reused = await seconds(() => ensureNodeImages({ cacheDir: cold }));
    console.log(`node images: built ${built.toFixed(1)} s into an empty cache, reused ${reused.toFixed(2)} s (Go binaries cached either way)`);
  } finally {
    rmSync(cold, { recursive: true, force: true });
  }

  const runnerUp = await withCluster('runner', async (_c, took) => took);
  await withCluster('kubelet', async (cluster, kubeletUp, statePath) => {
    console.log(`cluster up --nodes 2 (warm): kubelet nodes ${kubeletUp.toFixed(1)} s, runner nodes ${runnerUp.toFixed(1)} s (${(kubeletUp / runnerUp).toFixed(2)}x)`);
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    await kubeRequester(kc)({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
    await sleep(1500); // the namespace's default ServiceAccount
    const node = cluster.config.nodes![0]!;

    const ciliate = await podStartups(kc, node.name, 'c', PODS);
    const state = readState(statePath);
    for (const n of cluster.config.nodes!) {
      const pid = (c: string) => state?.components[`${c}-${n.name}`]?.pid;
      const shims = shimPids(runtimePaths(n.dir).containerdSocket);
      const shimRss = shims.reduce((sum, p) => sum + rssMiB(p), 0);
      console.log(`RSS ${n.name}: kubelet ${rssMiB(pid('kubelet')).toFixed(0)} MiB, containerd ${rssMiB(pid('containerd')).toFixed(0)} MiB, ${shims.length} shims ${shimRss.toFixed(0)} MiB, agent ${rssMiB(pid('agent')).toFixed(0)} MiB`);
    }

    const bridge = await useBridgeCni(node, () => podStartups(kc, node.name, 'b', PODS));
    if (!bridge.ips.every((ip) => ip.startsWith(BRIDGE_SUBNET.split('.').slice(0, 3).join('.')))) {
      throw new Error(`bridge pods did not get bridge addresses (${bridge.ips.join(', ')}): containerd kept Ciliate's conflist`);
    }
    console.log(`pod create -> Ready, Ciliate CNI:       ${fmt(ciliate.ms)}`);
    console.log(`pod create -> Ready, Debian bridge CNI: ${fmt(bridge.ms)}`);
    console.log(`ratio Ciliate / bridge: p50 ${(pct(ciliate.ms, 50) / pct(bridge.ms, 50)).toFixed(2)}x, p99 ${(pct(ciliate.ms, 99) / pct(bridge.ms, 99)).toFixed(2)}x (goal <= 1.2x)`);
  });
}

runBench(main);
