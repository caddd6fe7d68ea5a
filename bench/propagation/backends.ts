/**
 * bench/propagation/backends: how fast a Service's backend change reaches the kernel. On a one-node
 * local cluster with a selector-less Service and its EndpointSlice, each round adds one endpoint to
 * the slice (then removes it) and times, from the API write, until the node's pinned LB maps serve
 * the new backend (a slot naming it) and until it is gone again; the same-run baseline is a plain
 * watch on the EndpointSlices seeing the write. Prints medians, p99 and Ciliate's share.
 * Usage: npx tsx bench/propagation/backends.ts [rounds=50] [services=1]
 * With services > 1, that many other Services exist first (the cost must not grow with them).
 */
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { nodePinRoot } from '../../cluster/node-config.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { LB_CODECS } from '../../datapath/maps/lb.ts';
import { ipv4ToNumber } from '../../datapath/net.ts';
import { kubeRequester } from '../../runtime/kube-request.ts';
import { withBenchCluster, runBench } from '../support/cluster.ts';
import { fmt, sleep } from '../support/stats.ts';

const ROUNDS = Number(process.argv[2] ?? 50);
const SERVICES = Number(process.argv[3] ?? 1);
const NS = 'bench';
const SLICE_PATH = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;

/** An EndpointSlice of Service `svc` with these endpoint addresses on port 8080. */
const sliceOf = (svc: string, ips: string[]) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { name: `${svc}-1`, labels: { 'kubernetes.io/service-name': svc } },
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

async function main(): Promise<void> {
  await withBenchCluster('bb', (name) => `bench/propagation/backends: cluster ${name}, 1 node, ${SERVICES} Service(s), ${ROUNDS} backend adds and removes`, async (cluster, name) => {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const request = kubeRequester(kc);
    await request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
    const svcBody = (svc: string) => ({ metadata: { name: svc }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    for (let i = 1; i < SERVICES; i++) {
      await request({ method: 'POST', path: `/api/v1/namespaces/${NS}/services`, body: svcBody(`other-${i}`) });
      await request({ method: 'POST', path: SLICE_PATH, body: sliceOf(`other-${i}`, [`10.251.${(i >> 8) & 255}.${i & 255}`]) });
    }
    const svc = (await request({ method: 'POST', path: `/api/v1/namespaces/${NS}/services`, body: svcBody('target') })) as { spec: { clusterIP: string } };
    await request({ method: 'POST', path: SLICE_PATH, body: sliceOf('target', ['10.250.0.1']) });

    const pinRoot = nodePinRoot(name, `${name}-n0`);
    using services = BpfMap.openPinned(join(pinRoot, 'cilium_lb4_services_v2'), LB_CODECS.serviceKey, LB_CODECS.service);
    using backends = BpfMap.openPinned(join(pinRoot, 'cilium_lb4_backends_v3'), LB_CODECS.backendId, LB_CODECS.backend);
    const vip = ipv4ToNumber(svc.spec.clusterIP);
    /** Whether the frontend's live slots (1..count) name the backend `ip`. */
    const serves = (ip: string): boolean => {
      const master = services.lookup({ address: vip, dport: 80, backendSlot: 0, proto: 6, scope: 0 });
      if (!master) return false;
      for (let slot = 1; slot <= master.count; slot++) {
        const s = services.lookup({ address: vip, dport: 80, backendSlot: slot, proto: 6, scope: 0 });
        if (s && backends.lookup(s.backendId)?.address === ipv4ToNumber(ip)) return true;
      }
      return false;
    };
    for (let t = 0; t < 600 && !serves('10.250.0.1'); t++) await sleep(100);
    if (!serves('10.250.0.1')) throw new Error('the target Service never reached the kernel');

    const seen = new Map<string, number>();
    const watch = new Watch(kc);
    const sliceWatch = await watch.watch(SLICE_PATH, {}, (_t, o: { metadata: { name: string; resourceVersion: string } }) => {
      seen.set(o.metadata.resourceVersion, performance.now());
    }, () => undefined);
    const addMs: number[] = [];
    const removeMs: number[] = [];
    const watchMs: number[] = [];
    const shareMs: number[] = [];
    const change = async (ips: string[], want: () => boolean, out: number[]) => {
      const t0 = performance.now();
      const r = (await request({ method: 'PUT', path: `${SLICE_PATH}/target-1`, body: { ...sliceOf('target', ips), metadata: { ...sliceOf('target', ips).metadata, resourceVersion: current } } })) as { metadata: { resourceVersion: string } };
      current = r.metadata.resourceVersion;
      while (!want() && performance.now() - t0 < 10_000) await sleep(1);
      const kernel = performance.now() - t0;
      out.push(kernel);
      for (let w = 0; w < 200 && !seen.has(current); w++) await sleep(1);
      watchMs.push((seen.get(current) ?? NaN) - t0);
      shareMs.push(kernel - watchMs.at(-1)!);
    };
    let current = ((await request({ method: 'GET', path: `${SLICE_PATH}/target-1` })) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    for (let i = 0; i < ROUNDS; i++) {
      const ip = `10.250.1.${(i % 250) + 1}`;
      await change(['10.250.0.1', ip], () => serves(ip), addMs);
      await change(['10.250.0.1'], () => !serves(ip), removeMs);
    }
    sliceWatch.abort();
    console.log('\nEndpointSlice write -> kernel LB maps');
    console.log(`  backend added (serving):    ${fmt(addMs)}`);
    console.log(`  backend removed (no slot):  ${fmt(removeMs)}`);
    console.log(`  baseline, a plain watch:    ${fmt(watchMs)}`);
    console.log(`  ciliate's share (kernel - watch, per change): ${fmt(shareMs)}`);
  });
}

runBench(main);
