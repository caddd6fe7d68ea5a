// Connection-rate bench (TCP connect/request/response/close, netperf's TCP_CRR transaction) between
// two pod namespaces over a node namespace: the bare path; Ciliate's programs with visibility off (no
// reader of flow events: the agent without Hubble); with full visibility (every event through the
// agent's own Hubble sink and ring); with the local cluster's Hubble metrics too; and with full
// visibility plus two real `hubble observe --follow` clients on the agent's Hubble server, one
// reading and one stopped (SIGSTOP). Configurations are interleaved per repetition; medians and ratios to the bare path.
// Agent CPU is this process's CPU time while the client runs (it runs nothing else then).
// Run: npx tsx bench/datapath/crr.ts [reps] [seconds]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachEndpoint } from '../../datapath/attach.ts';
import { FlowBatchReader } from '../../datapath/events.ts';
import { loadEndpoint } from '../../datapath/loader.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { readEventStats } from '../../datapath/maps/metrics.ts';
import { policyEntries, setEnforcement } from '../../datapath/maps/policy.ts';
import { inNetns } from '../../datapath/netns.ts';
import { hubbleFlowSink } from '../../agent/hubble.ts';
import { HubbleMetrics } from '../../hubble/metrics/hubble-metrics.ts';
import { parseMetricsConfig } from '../../hubble/metrics/options.ts';
import { DEFAULT_RING_CAPACITY, FlowRing } from '../../hubble/ring.ts';
import { LOCAL_HUBBLE_METRICS } from '../../cluster/agent-launch.ts';
import { HubbleServer } from '../../hubble/server.ts';
import type { RuleOrigin } from '../../policy/api/model.ts';
import { createTopology, nsExec, type Topology } from '../../test/datapath/support/netns.ts';
import { ensureHubbleCli } from '../../test/support/hubble-cli.ts';
import { buildGenerator, runCrrClient, spawnCrrServer } from './crr-generator.ts';
import { median } from './tools.ts';

const A_ID = 1000, B_ID = 5000, PORT = 7777;
const ORIGINS: readonly RuleOrigin[] = [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'allow-a', ruleIndex: 0 }];

/** What one configuration measured besides the rate. */
interface Extra {
  events: number;
  lost: bigint;
  ring: number;
}

/** One measured configuration: setup returns its teardown, which reports what it saw. */
interface Config {
  name: string;
  setup(t: Topology): Promise<() => Extra | undefined> | (() => Extra | undefined);
}

/**
 * Ciliate on pod B; `visibility`: 'off' (no reader), 'ring' (the agent's pipeline), 'metrics' (plus
 * every Hubble metric Ciliate builds, as the local cluster enables them), 'clients' (plus two hubble followers).
 */
function ciliate(name: string, visibility: 'off' | 'ring' | 'metrics' | 'clients', dir: string, hubbleBin: string | undefined): Config {
  return {
    name,
    async setup(t) {
      const ep = loadEndpoint({ endpointId: 9, identity: B_ID }, { maxEntries: { cilium_ct4_global: 262144, cilium_drop_aggr: 4096 } });
      ep.maps.ipcache.updateBatch([ipcacheEntry(`${t.ipA}/32`, A_ID), ipcacheEntry(`${t.ipB}/32`, B_ID)]);
      setEnforcement(ep.maps.policyConfig, true, true);
      ep.maps.policy.updateBatch([
        ...policyEntries({ direction: 'ingress', identity: A_ID, protocol: 6, port: PORT, entryId: 1 }),
        ...policyEntries({ direction: 'egress', identity: A_ID, protocol: 6, entryId: 2 }),
      ]);
      const att = inNetns(t.nodePath, () => attachEndpoint(t.ifindexB, ep.progs));
      const ring = new FlowRing(DEFAULT_RING_CAPACITY);
      if (visibility === 'metrics') {
        const metrics = new HubbleMetrics(parseMetricsConfig(LOCAL_HUBBLE_METRICS).metrics);
        ring.listen((f) => metrics.process(f));
      }
      // The agent's own sink, with this bench's two pods as what it knows of the ends.
      const pod = (ip: string) => (ip === t.ipA ? 'a' : 'b');
      const sink = hubbleFlowSink(ring, {
        nodeName: 'bench', clusterName: 'default', localEndpoints: () => [],
        podAt: (ip) => ({ namespace: 'default', name: pod(ip) }), labelsOf: (id) => [`k8s:app=${id === A_ID ? 'a' : 'b'}`],
      });
      let events = 0;
      const reader = visibility === 'off' ? undefined : new FlowBatchReader(ep.maps.eventsFd, (batch) => {
        events += batch.count;
        sink({ events: batch, time: new Date(), origins: Array.from({ length: batch.count }, (_, i) => (batch.entryId(i) ? ORIGINS : [])) });
      }, { intervalMs: 100 });
      let server: HubbleServer | undefined;
      const clients: ChildProcess[] = [];
      if (visibility === 'clients' && hubbleBin) {
        const socket = join(dir, `hubble-${Date.now()}.sock`);
        server = new HubbleServer(ring, { nodeName: 'bench', clusterName: 'default', version: 'bench', address: '', peers: { list: () => [], watch: () => () => undefined } });
        await server.listen(socket);
        for (let i = 0; i < 2; i++) {
          clients.push(spawn(hubbleBin, ['observe', '--follow', '-o', 'json', '--server', `unix://${socket}`], { stdio: ['ignore', i === 0 ? 'ignore' : 'pipe', 'ignore'], env: { ...process.env, HUBBLE_CONFIG: '/dev/null' } }));
        }
        await new Promise((r) => setTimeout(r, 1000));
        clients[1]!.kill('SIGSTOP');
      }
      return () => {
        reader?.drain();
        reader?.close();
        for (const c of clients) {
          c.kill('SIGCONT');
          c.kill('SIGKILL');
        }
        server?.close();
        const lost = readEventStats(ep.maps.eventStats).lost;
        inNetns(t.nodePath, () => att.detach());
        ep.close();
        return { events, lost, ring: ring.size };
      };
    },
  };
}

/** Runs the client for `seconds`; transactions per second and this process's CPU share meanwhile. */
async function measure(t: Topology, bin: string, seconds: number): Promise<{ rate: number; cpu: number }> {
  const cpu0 = process.cpuUsage(), t0 = performance.now();
  const rate = await runCrrClient(bin, `/run/netns/${t.podA}`, t.ipB, PORT, seconds);
  const cpu = process.cpuUsage(cpu0), wall = (performance.now() - t0) * 1000;
  return { rate, cpu: (cpu.user + cpu.system) / wall };
}

async function main(): Promise<void> {
  const reps = Number(process.argv[2] ?? 3), seconds = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'ciliate-crr-'));
  const hubbleBin = await ensureHubbleCli();
  const bin = buildGenerator(dir);
  const configs: Config[] = [
    { name: 'bare veth path', setup: () => () => undefined },
    ciliate('ciliate, visibility off', 'off', dir, hubbleBin),
    ciliate('ciliate, full visibility', 'ring', dir, hubbleBin),
    ciliate('ciliate, full visibility + Hubble metrics', 'metrics', dir, hubbleBin),
    ...(hubbleBin ? [ciliate('ciliate, full visibility + 2 hubble followers (1 stopped)', 'clients', dir, hubbleBin)] : []),
  ];
  const topo = createTopology();
  // Closed connections wait in TIME-WAIT; let the client reuse them, as a busy pod would.
  nsExec(topo.podA, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65535');
  const server = spawnCrrServer(bin, `/run/netns/${topo.podB}`, topo.ipB, PORT);
  const results = new Map<string, { rate: number[]; cpu: number[]; extra: Extra[] }>();
  const heap0 = process.memoryUsage().heapUsed;
  try {
    await new Promise((r) => setTimeout(r, 300));
    for (let rep = 0; rep < reps; rep++) {
      for (const c of configs) {
        const teardown = await c.setup(topo);
        const r = results.get(c.name) ?? { rate: [], cpu: [], extra: [] };
        try {
          const m = await measure(topo, bin, seconds);
          r.rate.push(m.rate);
          r.cpu.push(m.cpu);
        } finally {
          const extra = teardown();
          if (extra) r.extra.push(extra);
        }
        results.set(c.name, r);
        console.error(`rep ${rep + 1} ${c.name}: ${Math.round(r.rate.at(-1)!)} conn/s, agent CPU ${(r.cpu.at(-1)! * 100).toFixed(1)}%`);
      }
    }
  } finally {
    server.kill('SIGKILL');
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(results.get(configs[0]!.name)!.rate);
  console.log(`\nMedians of ${reps} interleaved runs, ${seconds} s each; ratios to the bare path. Agent CPU: % of one core,`);
  console.log('and scaled to 10,000 new connections/s. Heap growth of this process over the whole run: ' +
    `${((process.memoryUsage().heapUsed - heap0) / 2 ** 20).toFixed(1)} MiB (ring capacity ${DEFAULT_RING_CAPACITY} flows).\n`);
  console.log('| path | connections/s | x | agent CPU | CPU at 10k conn/s | events read | events lost (kernel) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of configs) {
    const r = results.get(c.name)!;
    const rate = median(r.rate), cpu = median(r.cpu);
    const events = r.extra.reduce((a, e) => a + e.events, 0), lost = r.extra.reduce((a, e) => a + e.lost, 0n);
    const agent = c.name.startsWith('bare') ? ['-', '-'] : [`${(cpu * 100).toFixed(1)}%`, `${((cpu * 100 * 10_000) / rate).toFixed(1)}%`];
    console.log(`| ${c.name} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / base).toFixed(2)} | ${agent[0]} | ${agent[1]} | ${r.extra.length ? events : '-'} | ${r.extra.length ? lost : '-'} |`);
  }
}

await main();
