// Per-event cost of the agent's Hubble path without a kernel: batches of 8,000 flow records (the
// native reader's layout) through the deciding-rules lookup and the agent's Hubble sink into a ring
// of upstream's default capacity, as the agent does with each drained batch; no reader.
// Run: npx tsx bench/datapath/hubble-sink.ts [rounds]
import { hubbleFlowSink } from '../../agent/hubble.ts';
import { decidingRules } from '../../agent/flow-log.ts';
import { DEFAULT_RING_CAPACITY, FlowRing } from '../../hubble/ring.ts';
import { FlowEventBatch, type FlowEvent } from '../../datapath/events.ts';
import { flowEventRecords } from '../../test/support/flow-batches.ts';

const BATCH = 8000, BATCHES_PER_ROUND = 200;
const EVENT: FlowEvent = {
  type: 'TRACE', verdict: 'FORWARDED', dropReason: 0, dropReasonDesc: '', matchType: 'L3_L4', direction: 'INGRESS', endpointId: 12,
  srcIdentity: 1001, dstIdentity: 1002, srcIp: '10.244.0.5', dstIp: '10.244.0.7', srcPort: 40000, dstPort: 8080, protocol: 6,
  tcpFlags: 0x02, ctState: 'NEW', ifindex: 3, entryId: 7, proxyPort: 0, packets: 1, bytes: 60n, tsNs: 0n, serviceLoopback: false,
};

// A connection's records as the two endpoints report them: both ways, at both ends.
const records = flowEventRecords(Array.from({ length: BATCH }, (_, i): FlowEvent => {
  const reply = i % 2 === 1, port = 1024 + ((i >> 2) % 60000);
  return reply
    ? { ...EVENT, srcIp: EVENT.dstIp, dstIp: EVENT.srcIp, srcIdentity: EVENT.dstIdentity, dstIdentity: EVENT.srcIdentity, srcPort: 8080, dstPort: port, ctState: 'REPLY', endpointId: i % 4 < 2 ? 12 : 13 }
    : { ...EVENT, srcPort: port, endpointId: i % 4 < 2 ? 12 : 13 };
}));
const ring = new FlowRing(DEFAULT_RING_CAPACITY);
const sink = hubbleFlowSink(ring, {
  nodeName: 'bench', clusterName: 'default', localEndpoints: () => [],
  podAt: (ip) => ({ namespace: 'default', name: ip }), labelsOf: (id) => [`k8s:id=${id}`],
  serviceAt: () => undefined, namesAt: () => [],
});
const enforcer = { endpoint: () => ({ policy: { explain: () => ({ entry: { derivedFrom: [] } }) } }) } as unknown as Parameters<typeof decidingRules>[1];
const rounds = Number(process.argv[2] ?? 10);
const perEvent: number[] = [];
for (let round = 0; round < rounds; round++) {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < BATCHES_PER_ROUND; k++) {
    // A fresh copy per batch, as the native reader hands over.
    const events = new FlowEventBatch(Buffer.from(records));
    sink({ events, time: new Date(), origins: decidingRules(events, enforcer) });
  }
  perEvent.push(Number(process.hrtime.bigint() - t0) / (BATCHES_PER_ROUND * BATCH));
}
perEvent.sort((a, b) => a - b);
console.log(`ns per event: best ${perEvent[0]!.toFixed(0)}, median ${perEvent[perEvent.length >> 1]!.toFixed(0)}`);
