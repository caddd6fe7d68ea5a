// Hubble metrics: the `hubble-metrics` setting parsed as upstream writes it (what cannot be honoured
// is named, never thrown), upstream's series and labels counted from the agent's own flows, and lost
// events (a slow follower's, the kernel buffer's) reported to clients and counted.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type ClientReadableStream } from '@grpc/grpc-js';
import { hubbleMetricsFromConfig } from '../../agent/hubble-metrics-setup.ts';
import { KernelLostEvents } from '../../agent/kernel-lost-events.ts';
import { createLogger } from '../../runtime/logger.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { icmpv4TypeName } from '../../hubble/metrics/handlers.ts';
import { HubbleMetrics, type LostEventSource } from '../../hubble/metrics/hubble-metrics.ts';
import { parseMetricsConfig } from '../../hubble/metrics/options.ts';
import { hubbleServices } from '../../hubble/protos.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { HubbleServer } from '../../hubble/server.ts';
import { inTimeOrder, LostHistory } from '../../hubble/lost-history.ts';
import { StreamWriter } from '../../hubble/stream-writer.ts';
import { syntheticFlows } from '../support/hubble-flows.ts';

/** The sample lines of `name` in exposition text, as `{labels} value`. */
function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => l.slice(name.length));
}

describe('hubble-metrics: parsing the setting', () => {
  it('reads the chart\'s space-separated list with per-metric options', () => {
    const { metrics, problems } = parseMetricsConfig(
      'drop:sourceContext=pod;destinationContext=pod|ip  tcp flow flows-to-world:any-drop;port policy:labelsContext=traffic_direction,source_namespace');
    expect(problems).to.deep.equal([]);
    expect(metrics.map((m) => m.name)).to.deep.equal(['drop', 'tcp', 'flow', 'flows-to-world', 'policy']);
    expect(metrics[0]!.context).to.deep.include({ source: ['pod'], destination: ['pod', 'ip'] });
    expect([...metrics[3]!.flags]).to.deep.equal(['any-drop', 'port']);
    // Series order, not the order written.
    expect(metrics[4]!.context.labels).to.deep.equal(['source_namespace', 'traffic_direction']);
  });

  it('names what it cannot honour and keeps the rest', () => {
    const { metrics, problems } = parseMetricsConfig(
      'kafka httpV2:exemplars=true bogus drop:sourceContext=planet tcp:frobnicate flow:sourceEgressContext=namespace;labelsContext=nope icmp');
    expect(metrics.map((m) => m.name)).to.deep.equal(['tcp', 'icmp']);
    expect(problems).to.have.length(6);
    expect(problems[0]).to.match(/"kafka" needs layer 7 flows/);
    expect(problems[1]).to.match(/"httpV2" needs layer 7 flows/);
    expect(problems[2]).to.match(/unknown Hubble metric "bogus"/);
    expect(problems[3]).to.match(/"drop": sourceContext: unknown context "planet"/);
    expect(problems[4]).to.match(/"tcp": unknown option "frobnicate"; ignored/);
    expect(problems[5]).to.match(/"flow": labelsContext: unknown label "nope"/);
    expect(parseMetricsConfig('').metrics).to.deep.equal([]);
  });
});

describe('the agent\'s Hubble metrics setup', () => {
  it('logs each part of hubble-metrics it leaves out, by name, and serves the rest', () => {
    const lines: { level: string; msg: string }[] = [];
    const log = createLogger({ write: (l) => lines.push(JSON.parse(l) as { level: string; msg: string }) });
    const set = hubbleMetricsFromConfig({ hubbleMetrics: 'flow nonsense drop:sourceContext=moon', hubbleMetricsServer: { host: '127.0.0.1', port: 0 } }, log);
    expect(set).to.not.equal(undefined);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).to.deep.equal([
      'setting hubble-metrics: unknown Hubble metric "nonsense" (Ciliate serves flow, drop, tcp, port-distribution, icmp, policy, flows-to-world, dns); ignored',
      'setting hubble-metrics: Hubble metric "drop": sourceContext: unknown context "moon" (one of identity, namespace, pod, pod-name, pod-short, dns, ip, reserved-identity, workload, workload-name, app); metric ignored',
    ]);
    expect(hubbleMetricsFromConfig({ hubbleMetrics: '', hubbleMetricsServer: { host: '', port: 9965 } }, log)).to.equal(undefined);
    expect(hubbleMetricsFromConfig({ hubbleMetrics: 'flow', hubbleMetricsServer: undefined }, log)).to.equal(undefined);
    expect(lines.at(-1)!.msg).to.match(/hubble-metrics-server is empty/);
  });
});

describe('Hubble metrics from the agent\'s flows', () => {
  const flows = syntheticFlows(24);
  let text: string;
  let m: HubbleMetrics;

  before(async () => {
    const { metrics } = parseMetricsConfig('flow drop:sourceContext=pod;destinationContext=pod tcp port-distribution icmp '
      + 'policy:sourceContext=pod;labelsContext=traffic_direction flows-to-world:port');
    m = new HubbleMetrics(metrics);
    for (const f of flows) m.process(f);
    text = await m.registry.metrics();
  });

  it('hubble_flows_processed_total by protocol, type, subtype and verdict', () => {
    const s = series(text, 'hubble_flows_processed_total');
    expect(s).to.include('{protocol="TCP",type="Trace",subtype="from-endpoint",verdict="FORWARDED"} 8');
    expect(s).to.include('{protocol="TCP",type="Trace",subtype="to-endpoint",verdict="FORWARDED"} 2');
    expect(s).to.include('{protocol="TCP",type="PolicyVerdict",subtype="",verdict="FORWARDED"} 2');
    expect(s).to.include('{protocol="TCP",type="Drop",subtype="",verdict="DROPPED"} 6');
    expect(s).to.include('{protocol="ICMPv4",type="Trace",subtype="to-endpoint",verdict="FORWARDED"} 2');
    const total = s.reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    expect(total).to.equal(flows.length);
  });

  it('hubble_drop_total by reason and protocol, after the context labels', () => {
    const s = series(text, 'hubble_drop_total');
    expect(s).to.include('{source="demo/client-7d9f",destination="other/db-1",reason="POLICY_DENIED",protocol="TCP"} 2');
    expect(s).to.include('{source="demo/client-7d9f",destination="other/db-1",reason="POLICY_DENY",protocol="TCP"} 2');
    expect(s).to.include('{source="",destination="demo/server-0",reason="POLICY_DENIED",protocol="TCP"} 2');
  });

  it('hubble_tcp_flags_total counts SYN, SYN-ACK, FIN and RST of forwarded flows', () => {
    const s = series(text, 'hubble_tcp_flags_total');
    expect(s).to.include.members(['{flag="SYN",family="IPv4"} 6', '{flag="SYN-ACK",family="IPv4"} 2', '{flag="FIN",family="IPv4"} 2', '{flag="RST",family="IPv4"} 2']);
  });

  it('hubble_port_distribution_total: destination ports of forwarded requests, not replies', () => {
    const s = series(text, 'hubble_port_distribution_total');
    expect(s).to.include.members(['{protocol="TCP",port="8080"} 8', '{protocol="UDP",port="53"} 2', '{protocol="TCP",port="80"} 2', '{protocol="ICMPv4",port="0"} 2']);
    expect(s.some((l) => l.includes('port="40000"'))).to.be.false;
  });

  it('hubble_icmp_total by family and type name', () => {
    expect(series(text, 'hubble_icmp_total')).to.include.members(['{family="IPv4",type="EchoRequest"} 2', '{family="IPv4",type="EchoReply"} 2']);
    expect(icmpv4TypeName(3, 3)).to.equal('DestinationUnreachable(Port)');
  });

  it('hubble_policy_verdicts_total by direction, match and action (policy drops are verdicts too)', () => {
    const s = series(text, 'hubble_policy_verdicts_total');
    expect(s).to.include('{direction="ingress",match="l3-l4",action="forwarded",traffic_direction="ingress",source="demo/client-7d9f"} 2');
    expect(s).to.include('{direction="egress",match="none",action="dropped",traffic_direction="egress",source="demo/client-7d9f"} 2');
    expect(s).to.include('{direction="ingress",match="none",action="dropped",traffic_direction="ingress",source=""} 2');
  });

  it('hubble_flows_to_world_total: requests to reserved:world, with the port option', () => {
    expect(series(text, 'hubble_flows_to_world_total')).to.deep.equal(['{protocol="ICMPv4",verdict="FORWARDED",port=""} 2']);
  });

  it('a deleted pod\'s series go (pod contexts and labelsContext namespace + pod), the others stay', async () => {
    const { metrics } = parseMetricsConfig('drop:sourceContext=pod;destinationContext=pod flow:labelsContext=source_namespace,source_pod');
    const pm = new HubbleMetrics(metrics);
    for (const f of flows) pm.process(f);
    const before = await pm.registry.metrics();
    expect(series(before, 'hubble_drop_total').some((l) => l.includes('demo/client-7d9f'))).to.be.true;
    expect(pm.forgetPod('demo', 'client-7d9f')).to.be.greaterThan(0);
    const after = await pm.registry.metrics();
    expect(series(after, 'hubble_drop_total')).to.deep.equal(['{source="",destination="demo/server-0",reason="POLICY_DENIED",protocol="TCP"} 2']);
    expect(series(after, 'hubble_flows_processed_total').some((l) => l.includes('source_pod="client-7d9f"'))).to.be.false;
    expect(series(after, 'hubble_flows_processed_total').some((l) => l.includes('source_pod="server-0"'))).to.be.true;
  });

  it('hubble_lost_events_total by source, lower case as upstream', async () => {
    m.lost('HUBBLE_RING_BUFFER', 3);
    m.lost('PERF_EVENT_RING_BUFFER', 7);
    m.lost('HUBBLE_RING_BUFFER', 1);
    const s = series(await m.registry.metrics(), 'hubble_lost_events_total');
    expect(s).to.have.members(['{source="hubble_ring_buffer"} 4', '{source="perf_event_ring_buffer"} 7']);
  });
});

describe('Lost events', () => {
  it('the kernel counter: baseline first, then each increase once', () => {
    let counter = 100n;
    const reported: number[] = [];
    const k = new KernelLostEvents(() => counter, (n) => reported.push(n));
    k.poll();
    counter = 130n;
    k.poll();
    k.poll();
    counter = 131n;
    k.poll();
    expect(reported).to.deep.equal([30, 1]);
    new KernelLostEvents(() => { throw new Error('not loaded'); }, (n) => reported.push(n)).poll();
    expect(reported).to.deep.equal([30, 1]);
  });

  it('a stream writer counts each followed flow it drops', () => {
    let dropped = 0;
    const call = { write: () => false, end: () => undefined, once: () => undefined, on: () => undefined };
    const w = new StreamWriter(call, 4, () => dropped++);
    for (let i = 0; i < 20; i++) w.send({ n: i }, true);
    expect(dropped).to.equal(20 - 1 - 4);
  });

  it('history requests hear of recent losses among their flows, in time order', () => {
    const h = new LostHistory(2);
    for (const ms of [5, 15, 25]) h.add({ ms, source: 'PERF_EVENT_RING_BUFFER', n: ms });
    expect(h.between(0, 100).map((r) => r.ms)).to.deep.equal([15, 25]);
    expect(h.between(16, 30).map((r) => r.ms)).to.deep.equal([25]);
    const at = (ms: number) => ({ time: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } }) as Flow;
    const order: string[] = [];
    inTimeOrder([at(10), at(15), at(20)], h.between(0, 100), (f) => order.push(`flow ${f.time.nanos / 1e6}`), (r) => order.push(`lost ${r.ms}`));
    expect(order).to.deep.equal(['flow 10', 'lost 15', 'flow 15', 'flow 20', 'lost 25']);
  });

  describe('over gRPC', function () {
    this.timeout(30_000);
    let dir: string;
    let server: HubbleServer;
    const lost: [LostEventSource, number][] = [];
    const ring = new FlowRing(7);

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ciliate-lost-'));
      server = new HubbleServer(ring, {
        nodeName: 'node-a', clusterName: 'default', version: 'test', address: '',
        peers: { list: () => [], watch: () => () => undefined }, onLost: (s, n) => lost.push([s, n]),
      });
      await server.listen(join(dir, 'hubble.sock'));
    });
    after(() => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('a follower is told of kernel losses as GetFlowsResponse.lost_events, between its flows', async () => {
      const Observer = makeGenericClientConstructor(hubbleServices().observer, 'Observer');
      const client = new Observer(`unix://${join(dir, 'hubble.sock')}`, credentials.createInsecure()) as unknown as {
        GetFlows(req: object): ClientReadableStream<{ flow?: Flow; lost_events?: { source: string; num_events_lost: number } }>;
        close(): void;
      };
      const stream = client.GetFlows({ follow: true });
      stream.on('error', () => undefined); // the cancel at the end
      const got: string[] = [];
      const done = new Promise<void>((resolve) => stream.on('data', (r) => {
        got.push(r.lost_events ? `lost ${r.lost_events.source} ${r.lost_events.num_events_lost}` : `flow ${r.flow!.uuid}`);
        if (got.length === 3) resolve();
      }));
      const [a, b] = syntheticFlows(12).slice(0, 2) as [Flow, Flow];
      // The follower is registered once the call reaches the server: push until it shows.
      for (let i = 0; i < 100 && got.length === 0; i++) {
        ring.push(a);
        await new Promise((r) => setTimeout(r, 20));
      }
      got.length = 0;
      server.reportLost('PERF_EVENT_RING_BUFFER', 42);
      ring.push(b);
      ring.push(b);
      await done;
      stream.cancel();
      client.close();
      expect(got).to.deep.equal(['lost PERF_EVENT_RING_BUFFER 42', `flow ${b.uuid}`, `flow ${b.uuid}`]);
      // A later history request hears of the loss too, after the (older) flows it answers.
      const history = await new Promise<string[]>((resolve, reject) => {
        const lines: string[] = [];
        const again = new Observer(`unix://${join(dir, 'hubble.sock')}`, credentials.createInsecure()) as unknown as typeof client;
        const s = again.GetFlows({});
        s.on('data', (r: { flow?: Flow; lost_events?: { source: string; num_events_lost: number } }) =>
          lines.push(r.lost_events ? `lost ${r.lost_events.source} ${r.lost_events.num_events_lost}` : 'flow'));
        s.on('end', () => (again.close(), resolve(lines)));
        s.on('error', reject);
      });
      expect(history.at(-1)).to.equal('lost PERF_EVENT_RING_BUFFER 42');
      expect(history.slice(0, -1).every((l) => l === 'flow')).to.be.true;
    });
  });
});
