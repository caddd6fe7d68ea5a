// The flow ring with deferred flows, fed by the agent's own Hubble sink: a flow is built only when
// read (a listener or a snapshot), with what was known of its ends when it was observed.
import { expect } from 'chai';
import { hubbleFlowSink } from '../../agent/hubble.ts';
import { parseWorkloadAnnotation, workloadAnnotation } from '../../agent/flow-enrichment.ts';
import type { FlowEvent } from '../../datapath/events.ts';
import { DeferredFlow, FlowRing } from '../../hubble/ring.ts';
import type { RuleOrigin } from '../../policy/api/model.ts';
import { decidedFlows, flowEventBatch } from '../support/flow-batches.ts';
import { decidingRules } from '../../agent/flow-log.ts';

const EVENT: FlowEvent = {
  type: 'TRACE', verdict: 'FORWARDED', dropReason: 0, dropReasonDesc: '', matchType: 'NONE', direction: 'INGRESS', endpointId: 12,
  srcIdentity: 1001, dstIdentity: 1002, srcIp: '10.244.0.5', dstIp: '10.244.1.7', srcPort: 40000, dstPort: 8080, protocol: 6,
  tcpFlags: 0x02, ctState: 'NEW', ifindex: 3, entryId: 7, proxyPort: 0, packets: 1, bytes: 60n, tsNs: 0n, serviceLoopback: false,
};
const ALLOW: RuleOrigin[] = [{ kind: 'CiliumNetworkPolicy', namespace: 'demo', name: 'allow-web', ruleIndex: 0 }];

describe('Hubble flow ring with deferred flows', () => {
  it('builds a deferred flow only when read, each time afresh, with the uuid of its first build', () => {
    let builds = 0;
    const d = DeferredFlow.of((n: number) => {
      builds += n;
      return { uuid: `u${builds}` } as never;
    }, 1, Date.parse('2026-01-01T00:00:00Z'));
    const ring = new FlowRing(3);
    ring.push(d);
    expect(builds).to.equal(0);
    expect(ring.snapshot()[0]).to.include({ uuid: 'u1' });
    expect(ring.snapshot()[0]).to.include({ uuid: 'u1' });
    expect(builds).to.equal(2);
  });

  it('counts recent flows and reads the newest ones without building the rest', () => {
    let builds = 0;
    const ring = new FlowRing(7);
    for (let t = 1; t <= 10; t++) ring.push(DeferredFlow.of((ms: number) => (builds++, { uuid: `t${ms}` } as never), t, t));
    expect(ring.countSince(8)).to.equal(3);
    expect(builds).to.equal(0);
    const newest: string[] = [];
    for (const f of ring.flows('newest')) {
      newest.push(f.uuid!);
      if (newest.length === 2) break;
    }
    expect(newest).to.deep.equal(['t10', 't9']);
    expect(builds).to.equal(2);
  });

  it('the agent sink defers every flow until a listener or a snapshot reads it, and keeps the ends as they were seen', () => {
    const ring = new FlowRing(7);
    const pods = new Map([['10.244.0.5', { namespace: 'demo', name: 'client' }], ['10.244.1.7', { namespace: 'demo', name: 'server' }]]);
    let labelLookups = 0;
    const sink = hubbleFlowSink(ring, {
      nodeName: 'node-a', clusterName: 'default', localEndpoints: () => [],
      podAt: (ip) => pods.get(ip), labelsOf: (id) => { labelLookups++; return [`k8s:id=${id}`]; },
    });
    const time = new Date('2026-01-01T00:00:00Z');
    sink(decidedFlows([{ event: EVENT, origins: ALLOW }, { event: { ...EVENT, srcPort: 40001 }, origins: ALLOW }], time));
    expect(labelLookups, 'one lookup per end and batch').to.equal(2);
    pods.delete('10.244.0.5');
    const seen: string[] = [];
    const stop = ring.listen((f) => seen.push(f.source.pod_name ?? ''));
    sink(decidedFlows([{ event: EVENT, origins: [] }], time));
    stop();
    expect(seen).to.deep.equal(['']);
    const [first, second] = ring.snapshot();
    expect(first!.source).to.include({ pod_name: 'client', namespace: 'demo', identity: 1001 });
    expect(first!.destination).to.include({ pod_name: 'server' });
    expect(first!.ingress_allowed_by?.[0]).to.include({ name: 'allow-web' });
    expect((second!.l4?.TCP?.source_port)).to.equal(40001);
    expect(ring.seen).to.equal(3);
    const again = ring.snapshot();
    expect(again.map((f) => f.uuid), 'a flow keeps its uuid from read to read').to.deep.equal([first!.uuid, second!.uuid, again[2]!.uuid]);
    expect(new Set(again.map((f) => f.uuid)).size).to.equal(3);
  });

  it('resolves the deciding rules of a batch once per endpoint and policy entry', () => {
    let lookups = 0;
    const enforcer = {
      endpoint: (id: number) => ({ policy: { explain: (entry: number) => (lookups++, { entry: { derivedFrom: [{ ...ALLOW[0]!, name: `ep${id}-entry${entry}` }] } }) } }),
    } as unknown as Parameters<typeof decidingRules>[1];
    const batch = flowEventBatch([EVENT, EVENT, { ...EVENT, entryId: 0 }, { ...EVENT, endpointId: 13 }]);
    const rules = decidingRules(batch, enforcer);
    expect(rules.map((r) => r[0]?.name)).to.deep.equal(['ep12-entry7', 'ep12-entry7', undefined, 'ep13-entry7']);
    expect(lookups).to.equal(2);
    expect(batch.event(3)).to.deep.equal({ ...EVENT, endpointId: 13 });
  });

  it('the agent sink names workloads: its own pods from the pod, other nodes\' pods from their CiliumEndpoint annotation', () => {
    const ring = new FlowRing(7);
    const remote = parseWorkloadAnnotation('Deployment/web');
    const sink = hubbleFlowSink(ring, {
      nodeName: 'node-a', clusterName: 'default', localEndpoints: () => [],
      podAt: (ip) => (ip === '10.244.1.7' ? { namespace: 'demo', name: 'web-1', ...(remote ? { workload: remote } : {}) } : { namespace: 'demo', name: 'client' }),
      labelsOf: () => [],
      workloadsOf: (_ns, name) => (name === 'client' ? [{ name: 'client', kind: 'StatefulSet' }] : undefined),
    });
    sink(decidedFlows([{ event: EVENT, origins: ALLOW }]));
    const [flow] = ring.snapshot();
    expect(flow!.source.workloads).to.deep.equal([{ name: 'client', kind: 'StatefulSet' }]);
    expect(flow!.destination.workloads).to.deep.equal([{ name: 'web', kind: 'Deployment' }]);
    expect(parseWorkloadAnnotation(workloadAnnotation({ kind: 'Job', name: 'a/b' }))).to.deep.equal({ kind: 'Job', name: 'a/b' });
    for (const bad of [undefined, '', 'web', '/web', 'Deployment/']) expect(parseWorkloadAnnotation(bad), String(bad)).to.equal(undefined);
  });
});
