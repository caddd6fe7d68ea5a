// Datapath bench: TCP throughput and request/response between two pod namespaces over the node
// namespace, for the bare path, Ciliate's programs (1 entry; 100k ipcache + 10k policy entries; and
// an event per packet) and iptables with 1 / 1,000 / 10,000 rules. Configurations are interleaved
// per repetition; results are medians and ratios to the bare path. Run: npm run bench:datapath [reps] [seconds]
import type { ChildProcess } from 'node:child_process';
import { loadEndpoint, ENDPOINT_OBJECT, type LoadedEndpoint } from '../../datapath/loader.ts';
import { attachEndpoint } from '../../datapath/attach.ts';
import { inNetns } from '../../datapath/netns.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries, setEnforcement } from '../../datapath/maps/policy.ts';
import { readEventStats } from '../../datapath/maps/metrics.ts';
import { FlowEventReader } from '../../datapath/events.ts';
import { native } from '../../datapath/native.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { createTopology, nsSpawn, type Topology } from '../../test/datapath/support/netns.ts';
import { flushRules, installRules } from './iptables.ts';
import { median, requestResponse, scaleIpcache, scalePolicy, tcpThroughput } from './tools.ts';
import { progRunBench } from './progrun.ts';
import { progRunCrrBench } from './progrun-crr.ts';

const A_ID = 1000, B_ID = 5000;

/** One measured configuration: setup returns its teardown. */
interface Config {
  name: string;
  setup(t: Topology): Promise<() => void> | (() => void);
}

function fillScale(ep: LoadedEndpoint, ipcacheN: number, policyN: number): void {
  ep.maps.ipcache.updateBatch(scaleIpcache(ipcacheN));
  ep.maps.policy.updateBatch(scalePolicy(policyN, 100));
}

function ciliate(name: string, scale: boolean, perPacketEvents: boolean): Config {
  return {
    name,
    setup(t) {
      const maxEntries = { cilium_ct4_global: 65536, cilium_drop_aggr: 4096 };
      const ep = loadEndpoint({ endpointId: 9, identity: B_ID, aggregationIntervalNs: perPacketEvents ? 0n : 1_000_000_000n }, { maxEntries });
      let events = 0;
      const reader = new FlowEventReader(ep.maps.eventsFd, (evs) => { events += evs.length; }, { intervalMs: 50 });
      ep.maps.ipcache.updateBatch([ipcacheEntry(`${t.ipA}/32`, A_ID), ipcacheEntry(`${t.ipB}/32`, B_ID)]);
      ep.maps.policy.updateBatch(policyEntries({ direction: 'ingress', identity: A_ID, protocol: 6, entryId: 1 }));
      if (scale) fillScale(ep, 100_000, 10_000);
      setEnforcement(ep.maps.policyConfig, true, true);
      ep.maps.policy.updateBatch(policyEntries({ direction: 'egress', identity: A_ID, protocol: 6, entryId: 2 }));
      const att = inNetns(t.nodePath, () => attachEndpoint(t.ifindexB, ep.progs));
      const runStats = (): { ns: number; count: number } => [ep.progs.fromContainer, ep.progs.toContainer]
        .map((fd) => native().progInfo(fd)).reduce((a, i) => ({ ns: a.ns + i.runTimeNs, count: a.count + i.runCount }), { ns: 0, count: 0 });
      const before = runStats();
      return () => {
        reader.drain();
        const after = runStats();
        const st = readEventStats(ep.maps.eventStats);
        const prev = stats.get(name) ?? { events: 0, lost: 0n, nsPerRun: [] };
        const nsPerRun = after.count > before.count ? [(after.ns - before.ns) / (after.count - before.count)] : [];
        stats.set(name, { events: prev.events + events, lost: prev.lost + st.lost, nsPerRun: [...prev.nsPerRun, ...nsPerRun] });
        reader.close();
        inNetns(t.nodePath, () => att.detach());
        ep.close();
      };
    },
  };
}

function iptables(n: number): Config {
  return { name: `iptables-nft, ${n} rules`, setup: (t) => { installRules(t.node, n); return () => flushRules(t.node); } };
}

const stats = new Map<string, { events: number; lost: bigint; nsPerRun: number[] }>();

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

const CONFIGS: Config[] = [
  { name: 'bare veth path', setup: () => () => undefined },
  ciliate('ciliate, 1 policy entry', false, false),
  ciliate('ciliate, 100k ipcache + 10k policy', true, false),
  ciliate('ciliate, 1 entry, event per packet', false, true),
  iptables(1),
  iptables(1000),
  iptables(10000),
];

async function main(): Promise<void> {
  const reps = Number(process.argv[2] ?? 3), seconds = Number(process.argv[3] ?? 3);
  const topo = createTopology();
  const servers: ChildProcess[] = [];
  const results = new Map<string, { gbps: number[]; rr: number[] }>();
  const statsWas = readFileSync(BPF_STATS, 'utf8').trim();
  writeFileSync(BPF_STATS, '1');
  try {
    servers.push(nsSpawn(topo.podB, 'taskset', '-c', '1', 'iperf3', '-s', '-p', '5201'));
    servers.push(nsSpawn(topo.podB, 'taskset', '-c', '1', 'sockperf', 'server', '--tcp', '-i', topo.ipB, '-p', '11111'));
    await new Promise((r) => setTimeout(r, 500));
    for (let rep = 0; rep < reps; rep++) {
      for (const c of CONFIGS) {
        const teardown = await c.setup(topo);
        try {
          const r = results.get(c.name) ?? { gbps: [], rr: [] };
          r.gbps.push(await tcpThroughput(topo.podA, topo.ipB, seconds));
          r.rr.push(await requestResponse(topo.podA, topo.ipB, seconds));
          results.set(c.name, r);
          console.error(`rep ${rep + 1} ${c.name}: ${r.gbps.at(-1)!.toFixed(2)} Gbit/s, ${Math.round(r.rr.at(-1)!)} rr/s`);
        } finally {
          teardown();
        }
      }
    }
  } finally {
    for (const s of servers) s.kill('SIGKILL');
    topo.destroy();
    writeFileSync(BPF_STATS, statsWas);
  }
  const bare = results.get(CONFIGS[0]!.name)!;
  const g0 = median(bare.gbps), r0 = median(bare.rr);
  console.log(`\nMedians of ${reps} interleaved runs, ${seconds} s each; ratios to the bare path.\n`);
  console.log('| path | TCP Gbit/s | x | request/response per s | x | BPF ns/packet | events received | events lost |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const c of CONFIGS) {
    const r = results.get(c.name)!;
    const g = median(r.gbps), q = median(r.rr);
    const s = stats.get(c.name);
    console.log(`| ${c.name} | ${g.toFixed(1)} | ${(g / g0).toFixed(2)} | ${Math.round(q).toLocaleString('en-US')} | ${(q / r0).toFixed(2)} | ${s?.nsPerRun.length ? Math.round(median(s.nsPerRun)) : '-'} | ${s ? s.events : '-'} | ${s ? s.lost : '-'} |`);
  }
}

if (!process.argv.includes('--prog-only')) await main();
// PROGRUN_OBJECTS=a.o,b.o: the program-cost tables compare these endpoint objects (e.g. main's build and this one).
const objects = process.env.PROGRUN_OBJECTS ? process.env.PROGRUN_OBJECTS.split(',') : [ENDPOINT_OBJECT];
await progRunBench(objects);
await progRunCrrBench(objects);
