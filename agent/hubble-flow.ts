/**
 * A datapath flow event as Hubble shows it (flow.Flow): verdict, drop reason, event type with its
 * sub type (kernel numbering: 0 to-endpoint, 5 from-endpoint for traces; the drop code for drops),
 * observation point, direction, reply, L4 with TCP flags, both endpoints with identity, namespace,
 * pod and labels, the node, a one-line summary, and the policies whose rules decided it.
 */
import { randomUUID } from 'node:crypto';
import { MatchType } from '../datapath/constants.ts';
import type { FlowEvent } from '../datapath/events.ts';
import type { Flow, FlowEndpoint, FlowPolicy, Layer4, TcpFlags } from '../hubble/flow-types.ts';
import { toTimestamp } from '../hubble/flow-types.ts';
import { dropReasonName } from '../hubble/protos.ts';
import type { RuleOrigin } from '../policy/api/model.ts';

/** What the agent knows about both ends of flows. */
export interface FlowContext {
  nodeName: string;
  clusterName: string;
  /** The endpoint at `ip` holding `identity`. */
  endpoint(ip: string, identity: number): FlowEndpoint;
  /** The Service whose backend the flow's end at `ip` is, if any. */
  service?(ip: string): { name: string; namespace: string } | undefined;
}

const TRACE_TO_ENDPOINT = 0;
const TRACE_FROM_ENDPOINT = 5;
const FLAG_BITS: [keyof TcpFlags, number][] = [
  ['FIN', 0x01], ['SYN', 0x02], ['RST', 0x04], ['PSH', 0x08], ['ACK', 0x10], ['URG', 0x20], ['ECE', 0x40], ['CWR', 0x80],
];
const SUMMARY_FLAG_ORDER: (keyof TcpFlags)[] = ['SYN', 'FIN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

/** A policy origin as flow.Policy, labelled as upstream labels derived policies. */
export function flowPolicy(o: RuleOrigin): FlowPolicy {
  const prefix = 'k8s:io.cilium.k8s.policy';
  return {
    name: o.name, kind: o.kind, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    labels: [`${prefix}.derived-from=${o.kind}`, `${prefix}.name=${o.name}`, ...(o.namespace !== undefined ? [`${prefix}.namespace=${o.namespace}`] : [])],
  };
}

/** The L4 part and its summary. */
function layer4(e: FlowEvent): { l4?: Layer4; summary: string } {
  if (e.protocol === 6) {
    const flags: TcpFlags = {};
    for (const [name, bit] of FLAG_BITS) if (e.tcpFlags & bit) flags[name] = true;
    const names = SUMMARY_FLAG_ORDER.filter((n) => flags[n]);
    return { l4: { TCP: { source_port: e.srcPort, destination_port: e.dstPort, flags } }, summary: names.length ? `TCP Flags: ${names.join(', ')}` : 'TCP' };
  }
  if (e.protocol === 17) return { l4: { UDP: { source_port: e.srcPort, destination_port: e.dstPort } }, summary: 'UDP' };
  if (e.protocol === 132) return { l4: { SCTP: { source_port: e.srcPort, destination_port: e.dstPort } }, summary: 'SCTP' };
  if (e.protocol === 1) {
    // The datapath reports an echo's identifier as the request's source or the reply's destination port.
    const [type, name] = e.dstPort && !e.srcPort ? [0, 'EchoReply'] : [8, 'EchoRequest'];
    return { l4: { ICMPv4: { type, code: 0 } }, summary: `ICMPv4 ${name}` };
  }
  return { summary: `IP protocol ${e.protocol}` };
}

const policiesOf = new WeakMap<readonly RuleOrigin[], FlowPolicy[]>();
/** The flow.Policy list of a rule list, made once per list (lists are shared by the entries they decide). */
export function flowPolicies(origins: readonly RuleOrigin[]): FlowPolicy[] {
  let out = policiesOf.get(origins);
  if (!out) policiesOf.set(origins, (out = origins.filter((o) => o.kind !== 'Implicit').map(flowPolicy)));
  return out;
}

/** An end with the cluster's name: as given when it carries it, else a copy that does. */
function withCluster(ep: FlowEndpoint, clusterName: string): FlowEndpoint {
  return ep.cluster_name === clusterName ? ep : { ...ep, cluster_name: clusterName };
}

/** The emitter every flow of Ciliate's names. */
export const EMITTER = { name: 'Ciliate', version: '' };

/**
 * Builds the flow of an event decided by `origins` (empty: no rule, e.g. default deny). Parts that
 * do not vary (emitter, policies of one rule list, ends given with the cluster's name) are shared
 * between flows: readers must not change a flow.
 */
export function toHubbleFlow(e: FlowEvent, origins: readonly RuleOrigin[], ctx: FlowContext, now = new Date()): Flow {
  const ingress = e.direction === 'INGRESS';
  const { l4, summary } = layer4(e);
  const policies = flowPolicies(origins);
  const flow: Flow = {
    time: toTimestamp(now.getTime()),
    uuid: randomUUID(),
    emitter: EMITTER,
    verdict: e.verdict,
    IP: { source: e.srcIp, destination: e.dstIp, ipVersion: 'IPv4' },
    ...(l4 ? { l4 } : {}),
    source: withCluster(ctx.endpoint(e.srcIp, e.srcIdentity), ctx.clusterName),
    destination: withCluster(ctx.endpoint(e.dstIp, e.dstIdentity), ctx.clusterName),
    Type: 'L3_L4',
    node_name: ctx.nodeName,
    event_type: { type: 0, sub_type: 0 },
    traffic_direction: e.direction,
    Summary: summary,
  };
  const fromService = ctx.service?.(e.srcIp), toService = ctx.service?.(e.dstIp);
  if (fromService) flow.source_service = fromService;
  if (toService) flow.destination_service = toService;
  if (e.type === 'DROP') {
    flow.event_type = { type: 1, sub_type: e.dropReason };
    flow.drop_reason = e.dropReason;
    flow.drop_reason_desc = dropReasonName(e.dropReason);
    if (policies.length) flow[ingress ? 'ingress_denied_by' : 'egress_denied_by'] = policies;
    return flow;
  }
  const reply = e.ctState === 'REPLY';
  flow.is_reply = { value: reply };
  flow.reply = reply;
  flow.trace_reason = e.ctState;
  if (e.type === 'POLICY_VERDICT') {
    flow.event_type = { type: 5, sub_type: 0 };
    flow.policy_match_type = MatchType[e.matchType as keyof typeof MatchType] ?? 0;
  } else {
    flow.event_type = { type: 4, sub_type: ingress ? TRACE_TO_ENDPOINT : TRACE_FROM_ENDPOINT };
    flow.trace_observation_point = ingress ? 'TO_ENDPOINT' : 'FROM_ENDPOINT';
  }
  if (policies.length) flow[ingress ? 'ingress_allowed_by' : 'egress_allowed_by'] = policies;
  if (e.proxyPort) flow.proxy_port = e.proxyPort;
  return flow;
}
