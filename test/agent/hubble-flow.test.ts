// The agent's datapath events as Hubble flows: event types and sub types in the kernel's numbering,
// observation points, drop reasons by name, reply state, L4 and TCP flags, summaries, endpoints and
// the deciding policies on the side of the verdict and direction.
import { expect } from 'chai';
import { flowPolicy, toHubbleFlow } from '../../agent/hubble-flow.ts';
import type { FlowEvent } from '../../datapath/events.ts';
import { syntheticContext } from '../support/hubble-flows.ts';

const EVENT: FlowEvent = {
  type: 'TRACE', verdict: 'FORWARDED', dropReason: 0, dropReasonDesc: '', matchType: 'NONE', direction: 'EGRESS', endpointId: 12,
  srcIdentity: 1001, dstIdentity: 1002, srcIp: '10.244.0.5', dstIp: '10.244.1.7', srcPort: 40000, dstPort: 8080, protocol: 6,
  tcpFlags: 0x12, ctState: 'REPLY', ifindex: 3, entryId: 7, proxyPort: 0, packets: 1, bytes: 60n, tsNs: 0n, serviceLoopback: false,
};
const CNP = { kind: 'CiliumNetworkPolicy' as const, namespace: 'demo', name: 'web', ruleIndex: 0 };

describe('agent Hubble flows', () => {
  it('a trace: type 4 with the kernel sub type (from-endpoint 5, to-endpoint 0), reply state, flags and summary', () => {
    const out = toHubbleFlow(EVENT, [], syntheticContext(), new Date(1_700_000_000_123));
    expect(out).to.deep.include({
      verdict: 'FORWARDED', traffic_direction: 'EGRESS', event_type: { type: 4, sub_type: 5 }, trace_observation_point: 'FROM_ENDPOINT',
      is_reply: { value: true }, reply: true, trace_reason: 'REPLY', Summary: 'TCP Flags: SYN, ACK', node_name: 'node-a', Type: 'L3_L4',
      time: { seconds: 1_700_000_000, nanos: 123_000_000 },
    });
    expect(out.l4).to.deep.equal({ TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true, ACK: true } } });
    expect(out.source).to.deep.include({ identity: 1001, namespace: 'demo', pod_name: 'client-7d9f', cluster_name: 'default' });
    const ingress = toHubbleFlow({ ...EVENT, direction: 'INGRESS' }, [], syntheticContext());
    expect(ingress).to.deep.include({ event_type: { type: 4, sub_type: 0 }, trace_observation_point: 'TO_ENDPOINT' });
  });

  it('a drop: type 1 with the drop code as sub type, the reason by name, no reply state, the deny rule by direction', () => {
    const out = toHubbleFlow({ ...EVENT, type: 'DROP', verdict: 'DROPPED', dropReason: 181, direction: 'INGRESS', ctState: 'NEW' }, [CNP], syntheticContext());
    expect(out).to.deep.include({ verdict: 'DROPPED', drop_reason: 181, drop_reason_desc: 'POLICY_DENY', event_type: { type: 1, sub_type: 181 } });
    expect(out.is_reply).to.equal(undefined);
    expect(out.ingress_denied_by).to.deep.equal([flowPolicy(CNP)]);
    expect(out.egress_denied_by).to.equal(undefined);
    expect(flowPolicy(CNP).labels).to.include('k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy');
  });

  it('a policy verdict: type 5 with the match type, the allowing rule; implicit origins are not policies', () => {
    const out = toHubbleFlow({ ...EVENT, type: 'POLICY_VERDICT', matchType: 'L3_L4', ctState: 'NEW' }, [CNP, { kind: 'Implicit', name: 'allow-all', ruleIndex: -1 }], syntheticContext());
    expect(out).to.deep.include({ event_type: { type: 5, sub_type: 0 }, policy_match_type: 2, is_reply: { value: false } });
    expect(out.egress_allowed_by?.map((p) => p.name)).to.deep.equal(['web']);
  });

  it('UDP, ICMP echo request and reply, and unknown drop codes', () => {
    expect(toHubbleFlow({ ...EVENT, protocol: 17 }, [], syntheticContext())).to.deep.include({ Summary: 'UDP', l4: { UDP: { source_port: 40000, destination_port: 8080 } } });
    expect(toHubbleFlow({ ...EVENT, protocol: 1, srcPort: 9, dstPort: 0 }, [], syntheticContext())).to.deep.include({ Summary: 'ICMPv4 EchoRequest', l4: { ICMPv4: { type: 8, code: 0 } } });
    expect(toHubbleFlow({ ...EVENT, protocol: 1, srcPort: 0, dstPort: 9 }, [], syntheticContext())).to.deep.include({ Summary: 'ICMPv4 EchoReply', l4: { ICMPv4: { type: 0, code: 0 } } });
    expect(toHubbleFlow({ ...EVENT, type: 'DROP', verdict: 'DROPPED', dropReason: 250 }, [], syntheticContext()).drop_reason_desc).to.equal(250);
  });
});
