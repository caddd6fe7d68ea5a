/**
 * Upstream's Hubble metrics over Ciliate's flows, with upstream's names, labels and rules for what
 * each one counts. Every handler writes its labels into one reused buffer and counts the flow with
 * a single key lookup.
 */
import type { Flow } from '../flow-types.ts';
import { compileContext } from './context.ts';
import type { CounterVec } from './counter-vec.ts';
import type { MetricName, MetricSpec } from './options.ts';

/** Counts the flows one metric is about. */
export type FlowHandler = (flow: Flow) => void;

/** Makes (and registers) a counter family. */
export type VecFactory = (name: string, help: string, labelNames: readonly string[]) => CounterVec;

/** Monitor message types (flow.event_type.type). */
const TYPE_DROP = 1;
const TYPE_CAPTURE = 3;
const TYPE_TRACE = 4;
const TYPE_POLICY_VERDICT = 5;
const TYPE_ACCESS_LOG = 129;
const IDENTITY_HOST = 1;

/** Upstream's names of trace observation points (event sub types of traces). */
const TRACE_POINTS = ['to-endpoint', 'to-proxy', 'to-host', 'to-stack', 'to-overlay', 'from-endpoint', 'from-proxy', 'from-host',
  'from-stack', 'from-overlay', 'from-network', 'to-network', 'from-crypto', 'to-crypto'];

/** Upstream's names of DNS rcodes in the dns metric. */
const RCODE_NAMES = ['No Error', 'Format Error', 'Server Failure', 'Non-Existent Domain', 'Not Implemented', 'Query Refused',
  'Name Exists when it should not', 'RR Set Exists when it should not', 'RR Set that should exist does not',
  'Server Not Authoritative for zone', 'Name not contained in zone'];

/** Upstream's names of policy match types, as the policy metric writes them (lower case). */
const MATCH_TYPES = ['none', 'l3-only', 'l3-l4', 'l4-only', 'all', 'l3-proto', 'proto-only'];

/** Lower-case label values of directions and verdicts, made once. */
const LOWER: Record<string, string> = Object.fromEntries(
  ['INGRESS', 'EGRESS', 'TRAFFIC_DIRECTION_UNKNOWN', 'FORWARDED', 'DROPPED', 'AUDIT', 'ERROR', 'REDIRECTED', 'TRACED', 'TRANSLATED'].map((v) => [v, v.toLowerCase()]));

/** Decimal text of ports, made once per port. */
const PORT_TEXT: string[] = [];

/** A port number as label text. */
function portText(port: number): string {
  return (PORT_TEXT[port] ??= String(port));
}

/** ICMPv4 type names and, where they have them, code names (as upstream's packet library prints them). */
const ICMP4: Record<number, [string, string[]?]> = {
  0: ['EchoReply'], 3: ['DestinationUnreachable', ['Net', 'Host', 'Protocol', 'Port', 'FragmentationNeeded', 'SourceRoutingFailed',
    'NetUnknown', 'HostUnknown', 'SourceIsolated', 'NetAdminProhibited', 'HostAdminProhibited', 'NetTOS', 'HostTOS',
    'CommAdminProhibited', 'HostPrecedence', 'PrecedenceCutoff']],
  4: ['SourceQuench'], 5: ['Redirect', ['Net', 'Host', 'TOS+Net', 'TOS+Host']], 8: ['EchoRequest'], 9: ['RouterAdvertisement'],
  10: ['RouterSolicitation'], 11: ['TimeExceeded', ['TTLExceeded', 'FragmentReassemblyTimeExceeded']], 12: ['ParameterProblem'],
  13: ['TimestampRequest'], 14: ['TimestampReply'], 15: ['InfoRequest'], 16: ['InfoReply'], 17: ['AddressMaskRequest'], 18: ['AddressMaskReply'],
};

/** The L7 (or L4) protocol a flow is counted under, as upstream names it. */
export function flowProtocol(flow: Flow): string {
  if (flow.event_type.type === TYPE_ACCESS_LOG) return flow.l7?.dns ? 'DNS' : flow.l7?.http ? 'HTTP' : 'Unknown L7';
  const l4 = flow.l4;
  if (l4?.TCP) return 'TCP';
  if (l4?.UDP) return 'UDP';
  if (l4?.SCTP) return 'SCTP';
  if (l4?.ICMPv4) return 'ICMPv4';
  if (l4?.ICMPv6) return 'ICMPv6';
  return 'Unknown flow';
}

/** An ICMPv4 type and code as a label value, e.g. `EchoRequest` or `DestinationUnreachable(Port)`. */
export function icmpv4TypeName(type: number, code: number): string {
  const known = ICMP4[type];
  if (!known) return `${type}(${code})`;
  const [name, codes] = known;
  if (!codes) return code === 0 ? name : `${name}(Code: ${code})`;
  return `${name}(${codes[code] ?? `Code: ${code}`})`;
}

/** Whether the flow is known to be a reply. */
function isReply(flow: Flow): boolean {
  return flow.is_reply?.value === true;
}

/** The drop reason name of a dropped flow. */
function dropReason(flow: Flow): string {
  return String(flow.drop_reason_desc ?? flow.drop_reason ?? 0);
}

/** A handler with `own` labels first (or after the context labels, for `drop`), filled by `fill` at the index it is given; it returns false to skip the flow. */
function handler(make: VecFactory, spec: MetricSpec, name: string, help: string, own: string[],
  fill: (flow: Flow, out: string[], at: number) => boolean, contextFirst = false): FlowHandler {
  const ctx = compileContext(spec.context);
  const vec = make(name, help, contextFirst ? [...ctx.names, ...own] : [...own, ...ctx.names]);
  const buf: string[] = new Array<string>(vec.labelNames.length).fill('');
  const [ownAt, ctxAt] = contextFirst ? [ctx.names.length, 0] : [0, own.length];
  return (flow) => {
    if (!fill(flow, buf, ownAt)) return;
    ctx.fill(flow, buf, ctxAt);
    vec.inc(buf);
  };
}

type Builder = (make: VecFactory, spec: MetricSpec) => FlowHandler;

const BUILDERS: Record<MetricName, Builder> = {
  dns: dnsMetric,
  flow: (r, s) => handler(r, s, 'hubble_flows_processed_total', 'Total number of flows processed', ['protocol', 'type', 'subtype', 'verdict'], (f, out) => {
    const t = f.event_type.type;
    out[0] = flowProtocol(f);
    out[2] = '';
    if (t === TYPE_ACCESS_LOG) {
      out[1] = 'L7';
      out[2] = f.l7?.dns ? 'DNS' : f.l7?.http ? 'HTTP' : '';
    }
    else if (t === TYPE_DROP) out[1] = 'Drop';
    else if (t === TYPE_CAPTURE) out[1] = 'Capture';
    else if (t === TYPE_TRACE) {
      out[1] = 'Trace';
      out[2] = TRACE_POINTS[f.event_type.sub_type] ?? '';
    } else if (t === TYPE_POLICY_VERDICT) out[1] = 'PolicyVerdict';
    else {
      out[1] = 'Unknown';
      out[2] = String(t);
    }
    out[3] = f.verdict;
    return true;
  }),
  drop: (r, s) => handler(r, s, 'hubble_drop_total', 'Number of drops', ['reason', 'protocol'], (f, out, at) => {
    if (f.verdict !== 'DROPPED') return false;
    out[at] = dropReason(f);
    out[at + 1] = flowProtocol(f);
    return true;
  }, true),
  tcp: (r, s) => {
    // One flow may carry several flags: each counts once, with the same context labels.
    const ctx = compileContext(s.context);
    const vec = r('hubble_tcp_flags_total', 'TCP flag occurrences', ['flag', 'family', ...ctx.names]);
    const buf: string[] = new Array<string>(vec.labelNames.length).fill('');
    return (f) => {
      const flags = f.l4?.TCP?.flags;
      if (f.verdict !== 'FORWARDED' || !flags) return;
      if (!flags.FIN && !flags.SYN && !flags.RST) return;
      buf[1] = f.IP.ipVersion;
      ctx.fill(f, buf, 2);
      if (flags.FIN) {
        buf[0] = 'FIN';
        vec.inc(buf);
      }
      if (flags.SYN) {
        buf[0] = flags.ACK ? 'SYN-ACK' : 'SYN';
        vec.inc(buf);
      }
      if (flags.RST) {
        buf[0] = 'RST';
        vec.inc(buf);
      }
    };
  },
  'port-distribution': (r, s) => handler(r, s, 'hubble_port_distribution_total', 'Numbers of packets distributed by destination port', ['protocol', 'port'], (f, out) => {
    const l4 = f.l4;
    if ((f.verdict !== 'FORWARDED' && f.verdict !== 'REDIRECTED') || !l4 || isReply(f)) return false;
    const ports = l4.TCP ?? l4.UDP ?? l4.SCTP;
    if (ports) {
      out[0] = l4.TCP ? 'TCP' : l4.UDP ? 'UDP' : 'SCTP';
      out[1] = portText(ports.destination_port);
      return true;
    }
    if (!l4.ICMPv4 && !l4.ICMPv6) return false;
    out[0] = l4.ICMPv4 ? 'ICMPv4' : 'ICMPv6';
    out[1] = '0';
    return true;
  }),
  icmp: (r, s) => handler(r, s, 'hubble_icmp_total', 'Number of ICMP messages', ['family', 'type'], (f, out) => {
    const icmp = f.l4?.ICMPv4;
    if (!icmp) return false;
    out[0] = 'IPv4';
    out[1] = icmpv4TypeName(icmp.type, icmp.code);
    return true;
  }),
  policy: (r, s) => handler(r, s, 'hubble_policy_verdicts_total', 'Total number of Cilium network policy verdicts', ['direction', 'match', 'action'], (f, out) => {
    // Ciliate's datapath reports a denial as one drop event where upstream's sends a drop and a
    // verdict: policy drops count here as the verdicts they are.
    const policyDrop = f.event_type.type === TYPE_DROP && (f.drop_reason_desc === 'POLICY_DENIED' || f.drop_reason_desc === 'POLICY_DENY');
    if (f.event_type.type !== TYPE_POLICY_VERDICT && !policyDrop) return false;
    if (f.source.identity === IDENTITY_HOST) return false;
    out[0] = LOWER[f.traffic_direction] ?? f.traffic_direction.toLowerCase();
    out[1] = MATCH_TYPES[f.policy_match_type ?? 0] ?? 'unknown';
    out[2] = LOWER[f.verdict] ?? f.verdict.toLowerCase();
    return true;
  }),
  'flows-to-world': (r, s) => {
    const [anyDrop, withPort, synOnly] = ['any-drop', 'port', 'syn-only'].map((o) => s.flags.has(o));
    const own = withPort ? ['protocol', 'verdict', 'port'] : ['protocol', 'verdict'];
    return handler(r, s, 'hubble_flows_to_world_total', 'Total number of flows to reserved:world', own, (f, out) => {
      const l4 = f.l4;
      if (!l4 || !f.destination.labels?.includes('reserved:world')) return false;
      const dropped = f.verdict === 'DROPPED';
      if (dropped && !anyDrop && f.drop_reason_desc !== 'POLICY_DENIED') return false;
      if (!dropped && isReply(f)) return false;
      if (synOnly && (!l4.TCP?.flags?.SYN || isReply(f))) return false;
      out[0] = flowProtocol(f);
      out[1] = f.verdict;
      const ports = l4.TCP ?? l4.UDP ?? l4.SCTP;
      if (withPort) out[2] = ports ? portText(ports.destination_port) : '';
      return true;
    });
  },
};

/**
 * The dns metric: queries (a dropped query counts here with rcode "Policy denied"), responses by
 * rcode, and response record types; the context labels first, `query` adds the name, `ignoreAAAA`
 * skips flows asking only AAAA.
 */
function dnsMetric(make: VecFactory, spec: MetricSpec): FlowHandler {
  const ctx = compileContext(spec.context);
  const withQuery = spec.flags.has('query');
  const q = withQuery ? ['query'] : [];
  const help = 'Number of DNS queries observed';
  const queries = make('hubble_dns_queries_total', help, [...ctx.names, 'rcode', 'qtypes', 'ips_returned', ...q]);
  const responses = make('hubble_dns_responses_total', help, [...ctx.names, 'rcode', 'qtypes', 'ips_returned', ...q]);
  const types = make('hubble_dns_response_types_total', help, [...ctx.names, 'type', 'qtypes', ...q]);
  const n = ctx.names.length;
  // [context..., rcode, qtypes, ips_returned, query?] and [context..., type, qtypes, query?], reused.
  const buf: string[] = new Array<string>(n + 4).fill('');
  const typeBuf: string[] = new Array<string>(n + 3).fill('');
  return (f) => {
    const dns = f.l7?.dns;
    if (!dns || (spec.flags.has('ignoreaaaa') && dns.qtypes?.length === 1 && dns.qtypes[0] === 'AAAA')) return;
    ctx.fill(f, buf, 0);
    buf[n + 1] = (dns.qtypes ?? []).join(',');
    buf[n + 2] = String(dns.ips?.length ?? 0);
    buf[n + 3] = withQuery ? dns.query : '';
    if (f.verdict === 'DROPPED' || !isReply(f)) {
      buf[n] = f.verdict === 'DROPPED' ? 'Policy denied' : '';
      queries.inc(buf);
      return;
    }
    buf[n] = RCODE_NAMES[dns.rcode ?? 0] ?? String(dns.rcode);
    responses.inc(buf);
    for (let i = 0; i < n; i++) typeBuf[i] = buf[i]!;
    typeBuf[n + 1] = buf[n + 1]!;
    typeBuf[n + 2] = buf[n + 3]!;
    for (const rr of dns.rrtypes ?? []) {
      typeBuf[n] = rr;
      types.inc(typeBuf);
    }
  };
}

/** Makes `spec`'s metric with `make` and returns what counts flows into it. */
export function metricHandler(make: VecFactory, spec: MetricSpec): FlowHandler {
  return BUILDERS[spec.name](make, spec);
}
