/**
 * bench/services (run on demand, as root): connection rate (CRR) and request/response rate (RR)
 * through a ClusterIP versus the backend's pod IP, with 1 and with N Services (default 10,000), for
 * Ciliate on a one-node local cluster and, in the same run, for upstream kube-proxy in iptables mode
 * (same Kubernetes version) in an isolated namespace set watching the same apiserver. See README.md.
 *
 * Usage: npx tsx bench/services/run.ts [--services N] [--rounds R] [--seconds S] [--iptables nft|legacy] [--keep]
 * (--keep leaves the work folder with kube-proxy's log behind).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { netnsPath } from '../../cluster/nodes.ts';
import { cgroupProcs } from '../../cluster/cgroup.ts';
import { uniqueClusterName } from '../../test/support/cluster.ts';
import { startCiliateSide, SERVER_PORT, type CiliateSide } from './ciliate-side.ts';
import { createKpNetns, type KpNetns } from './kp-netns.ts';
import { kubeProxyBinary, startKubeProxy, writeKubeProxyKubeconfig, type IptablesBackend, type KubeProxy } from './kube-proxy.ts';
import { buildLoadgen, serverCommand, spawnInNetns } from './loadgen.ts';
import { measureRounds, sample, type BenchDatapath } from './measure.ts';
import { bpfTable, flatnessTable, goalLines, ratesTable, timeTable, type Phase } from './report.ts';
import { bpfStatsRestorer, measureBpfCost, type BpfCost } from './bpf-cost.ts';
import { nodePinRoot } from '../../cluster/node-config.ts';
import { createServices, SERVICE_PORT, waitForAll } from './services.ts';
import { Teardown } from './teardown.ts';

const CLIENT_CPU = 0, SERVER_CPU = 1;
/** Pod addresses of the local cluster: node CIDRs (10.244/16) and the operator's pool (10.245/16). */
const CLUSTER_CIDR = '10.244.0.0/15';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '7' },
    seconds: { type: 'string', default: '2' },
    iptables: { type: 'string', default: 'nft' },
    keep: { type: 'boolean', default: false },
  },
});
const SERVICES = Number(args.services), ROUNDS = Number(args.rounds), SECONDS = Number(args.seconds);
const BACKEND = args.iptables as IptablesBackend;
if (!(SERVICES >= 2) || !(ROUNDS >= 1) || !(SECONDS > 0) || !['nft', 'legacy'].includes(BACKEND)) {
  throw new Error('usage: run.ts [--services N>=2] [--rounds R>=1] [--seconds S>0] [--iptables nft|legacy]');
}
const CILIATE = 'Ciliate', KUBE_PROXY = `kube-proxy iptables-${BACKEND}`;
const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/** Both datapaths, each with its client's targets: the server's pod IP, the ClusterIP, and a loopback server beside the client. */
function datapaths(c: CiliateSide, kp: KpNetns, kubeProxy: KubeProxy, kpServerPid: () => number | undefined, vip: string): BenchDatapath[] {
  const targets = { 'pod IP': `${c.server.ip}:${SERVER_PORT}`, ClusterIP: `${vip}:${SERVICE_PORT}`, loopback: `127.0.0.1:${SERVER_PORT}` };
  return [
    { name: CILIATE, netnsPath: c.client.netns, cgroupProcs: cgroupProcs(c.cluster.config.nodes?.[0]?.cgroup), targets, pids: () => ({ server: c.serverPid, agent: c.agentPid() }) },
    { name: KUBE_PROXY, netnsPath: netnsPath(kp.client), targets, pids: () => ({ server: kpServerPid(), 'kube-proxy': kubeProxy.process.pid }) },
  ];
}

async function main(): Promise<void> {
  const teardown = new Teardown();
  teardown.add('kernel.bpf_stats_enabled', bpfStatsRestorer());
  try {
    const work = mkdtempSync(join(tmpdir(), 'ciliate-svcbench-'));
    teardown.add('work folder', () => (args.keep ? log(`kept ${work}`) : rmSync(work, { recursive: true, force: true })));
    const kpBin = await kubeProxyBinary();
    const loadgen = await buildLoadgen(work);
    const name = uniqueClusterName('sv');
    log(`cluster ${name} (1 node), ${SERVICES.toLocaleString('en-US')} Services, ${ROUNDS} rounds of ${SECONDS} s per path and mode`);
    const cil = await startCiliateSide({ name, stateRoot: join(work, 'state'), loadgen, serverCpu: SERVER_CPU, teardown });
    const [vip] = await createServices(cil.request, 0, 1, cil.server.ip) as [string];
    log(`server pod ${cil.server.ip}:${SERVER_PORT}, client pod ${cil.client.ip}, measured Service ${vip}:${SERVICE_PORT}`);

    const kp = await createKpNetns({ clientIp: cil.client.ip, serverIp: cil.server.ip, apiserverIp: cil.cluster.config.network.gateway });
    teardown.add('kube-proxy namespaces', () => kp.destroy());
    const kpServer = spawnInNetns(netnsPath(kp.server), serverCommand(loadgen, SERVER_PORT, SERVER_CPU));
    teardown.add('kp server', () => kpServer.kill('SIGKILL'));
    for (const ns of [cil.client.netns, netnsPath(kp.client)]) { // the loopback reference beside each client
      const lo = spawnInNetns(ns, serverCommand(loadgen, SERVER_PORT, SERVER_CPU));
      teardown.add('loopback server', () => lo.kill('SIGKILL'));
    }
    const kubeconfig = join(work, 'kube-proxy.kubeconfig');
    await writeKubeProxyKubeconfig(cil.cluster.config, kubeconfig);
    const kubeProxy = startKubeProxy({ bin: kpBin, kubeconfig, netns: kp.node, nodeAddr: kp.nodeAddr, clusterCidr: CLUSTER_CIDR, workDir: work, backend: BACKEND });
    teardown.add('kube-proxy', () => kubeProxy.process.kill('SIGKILL'));
    kubeProxy.process.on('exit', (code, sig) => log(`kube-proxy exited (${code ?? sig}); its log: ${kubeProxy.log}`));

    const kpRules = async () => new Set(await kubeProxy.serviceChainOrder());
    await waitForAll('Ciliate LB map', [vip], () => cil.lbFrontends(), log, 60);
    await waitForAll('kube-proxy rules', [vip], kpRules, log, 60);
    const all = datapaths(cil, kp, kubeProxy, () => kpServer.pid, vip);
    for (const d of all) { // every target answers before anything is measured
      const s = await sample(loadgen, CLIENT_CPU, d, 'crr', 0.3);
      for (const [via, r] of Object.entries(s.via)) if (r.ops === 0) throw new Error(`${d.name} via ${via} (${r.target}): no connection succeeded`);
    }

    const loads: string[] = [];
    const bpf: Array<{ services: number; costs: BpfCost[] }> = [];
    const pinRoot = nodePinRoot(cil.cluster.name, cil.cluster.config.nodes![0]!.name);
    const measure = async (services: number): Promise<Phase> => {
      loads.push(load());
      const results = await measureRounds({ bin: loadgen, clientCpu: CLIENT_CPU, datapaths: all, rounds: ROUNDS, seconds: SECONDS, log });
      const { 'pod IP': direct, ClusterIP } = all[0]!.targets;
      bpf.push({ services, costs: await measureBpfCost({ bin: loadgen, clientCpu: CLIENT_CPU, netnsPath: cil.client.netns, cgroupProcs: cgroupProcs(cil.cluster.config.nodes?.[0]?.cgroup), pinRoot, targets: { 'pod IP': direct, ClusterIP }, seconds: SECONDS }) });
      return { services, results };
    };
    log('measuring with 1 Service');
    const phases: Phase[] = [await measure(1)];

    log(`creating ${(SERVICES - 1).toLocaleString('en-US')} more Services with EndpointSlices`);
    const t0 = performance.now();
    const more = await createServices(cil.request, 1, SERVICES - 1, cil.server.ip, (n) => log(`  ${n} created`));
    const createdS = (performance.now() - t0) / 1000;
    log(`created in ${createdS.toFixed(0)} s; waiting for both datapaths to hold all ${SERVICES} Services`);
    const want = [vip, ...more];
    const [cilS, kpS] = await Promise.all([
      waitForAll('Ciliate LB map', want, () => cil.lbFrontends(), log),
      waitForAll('kube-proxy rules', want, kpRules, log),
    ]);
    const order = await kubeProxy.serviceChainOrder();
    log(`measuring with ${SERVICES.toLocaleString('en-US')} Services`);
    phases.push(await measure(SERVICES));

    const names = [CILIATE, KUBE_PROXY];
    console.log(`\nbench/services: medians of ${ROUNDS} rounds of ${SECONDS} s per datapath and mode, each run alternating` +
      ' pod IP / ClusterIP / loopback operation by operation; one flow at a time,' +
      ` client on CPU ${CLIENT_CPU}, server on CPU ${SERVER_CPU}; ${new Date().toISOString()};` +
      ` load average (1/5/15 min) before each count: ${loads.join(' | ')}, after: ${load()}\n`);
    console.log(ratesTable(phases, names));
    console.log(`\nrate with ${SERVICES.toLocaleString('en-US')} Services over the rate with 1, relative to the loopback reference of the same runs (raw in brackets)\n`);
    console.log(`${flatnessTable(phases, names)}\n`);
    for (const line of goalLines(phases, names)) console.log(`goal: ${line}`);
    console.log(`\ncreating ${(SERVICES - 1).toLocaleString('en-US')} Services + EndpointSlices took ${createdS.toFixed(0)} s;` +
      ` then all ${SERVICES.toLocaleString('en-US')} were in Ciliate's kernel LB map after ${cilS.toFixed(1)} s more` +
      ` and in kube-proxy's nat KUBE-SERVICES chain after ${kpS.toFixed(1)} s more.`);
    console.log(`kube-proxy: the measured Service is rule ${order.indexOf(vip) + 1} of ${order.length} in KUBE-SERVICES` +
      ' (packets to a pod IP walk the whole chain).');
    console.log('\nwhere the time goes (medians; CPU from /proc and the client\'s getrusage; client CPU per operation over all three targets)\n');
    console.log(timeTable(phases, names));
    console.log(`\nCiliate's endpoint programs (kernel.bpf_stats_enabled, on only for these extra ${SECONDS} s runs against one target each)\n`);
    console.log(bpfTable(bpf));
  } finally {
    await teardown.run();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
