// Per-packet program cost measured with BPF_PROG_TEST_RUN (repeat N, kernel-timed), which the shared
// machine's load disturbs far less than end-to-end traffic: established flows with 1 entry vs
// 100k ipcache + 10k policy entries, with aggregated events vs an event per packet, and the deny path.
import { native } from '../../datapath/native.ts';
import { loadEndpoint, ENDPOINT_OBJECT, type LoadedEndpoint } from '../../datapath/loader.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries, setEnforcement } from '../../datapath/maps/policy.ts';
import { FlowEventReader } from '../../datapath/events.ts';
import { buildPacket, TCP } from '../../test/datapath/support/packets.ts';
import { median, scaleIpcache, scalePolicy } from './tools.ts';

const POD = '10.0.1.2', PEER = '10.0.1.3';

function setup(objectPath: string, scale: boolean, perPacketEvents: boolean): LoadedEndpoint {
  const ep = loadEndpoint({ endpointId: 3, identity: 5000, aggregationIntervalNs: perPacketEvents ? 0n : 1_000_000_000n },
    { objectPath, maxEntries: { cilium_ct4_global: 65536, cilium_drop_aggr: 4096 } });
  ep.maps.ipcache.updateBatch([ipcacheEntry(`${PEER}/32`, 1000), ipcacheEntry(`${POD}/32`, 5000)]);
  ep.maps.policy.updateBatch(policyEntries({ direction: 'ingress', identity: 1000, protocol: 6, port: 80, entryId: 1 }));
  if (scale) {
    ep.maps.ipcache.updateBatch(scaleIpcache(100_000));
    ep.maps.policy.updateBatch(scalePolicy(10_000, 2));
  }
  setEnforcement(ep.maps.policyConfig, true, true);
  return ep;
}

function nsPerRun(fd: number, pkt: Buffer, repeat: number, reps: number): number {
  const xs = [];
  for (let i = 0; i < reps; i++) xs.push(native().progTestRun(fd, pkt, { repeat }).durationNs);
  return median(xs);
}

/** Runs the cases for each endpoint object (default: this build's) and prints a markdown table, a column per object. */
export async function progRunBench(objects = [ENDPOINT_OBJECT], repeat = 200_000, reps = 5): Promise<void> {
  const rows: Array<[string, number[]]> = [];
  for (const [name, scale, perPacket] of [
    ['1 entry, aggregated events', false, false],
    ['100k ipcache + 10k policy, aggregated events', true, false],
    ['1 entry, event per packet (no wakeup)', false, true],
    ['100k ipcache + 10k policy, event per packet', true, true],
  ] as const) {
    const established: number[] = [], denied: number[] = [];
    for (const objectPath of objects) {
      const ep = setup(objectPath, scale, perPacket);
      const reader = new FlowEventReader(ep.maps.eventsFd, () => undefined, { intervalMs: 5 });
      try {
        const syn = buildPacket({ src: PEER, dst: POD, proto: 'tcp', sport: 40000, dport: 80, flags: TCP.SYN, payload: 0 });
        native().progTestRun(ep.progs.toContainer, syn);
        const ack = buildPacket({ src: PEER, dst: POD, proto: 'tcp', sport: 40000, dport: 80, flags: TCP.ACK, payload: 64 });
        established.push(nsPerRun(ep.progs.toContainer, ack, repeat, reps));
        const deniedSyn = buildPacket({ src: PEER, dst: POD, proto: 'tcp', sport: 40001, dport: 81, flags: TCP.SYN });
        denied.push(nsPerRun(ep.progs.toContainer, deniedSyn, repeat, reps));
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        reader.close();
        ep.close();
      }
    }
    rows.push([`established flow, ${name}`, established], [`denied flow, ${name}`, denied]);
  }
  console.log(`\nProgram cost per packet (BPF_PROG_TEST_RUN, repeat ${repeat}, median of ${reps}):\n`);
  console.log(`| case | ${objects.length > 1 ? objects.join(' | ') : 'ns/packet'} |`);
  console.log(`|---|${objects.map(() => '---|').join('')}`);
  for (const [name, ns] of rows) console.log(`| ${name} | ${ns.join(' | ')} |`);
}
