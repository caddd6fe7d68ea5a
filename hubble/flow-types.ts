/**
 * Hubble's messages as plain objects (the shapes protos.ts encodes and decodes): the fields of
 * flow.Flow, flow.FlowFilter and observer.GetFlowsRequest that Ciliate fills in or reads, checked
 * against the types generated from the `.proto` files by generated-conformance.ts.
 */
import type { DropReason } from './gen/types/flow/DropReason.ts';
import type { TraceObservationPoint__Output } from './gen/types/flow/TraceObservationPoint.ts';
import type { TraceReason__Output } from './gen/types/flow/TraceReason.ts';

/** google.protobuf.Timestamp. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** flow.Endpoint. */
export interface FlowEndpoint {
  ID?: number;
  identity: number;
  cluster_name?: string;
  namespace?: string;
  labels?: string[];
  pod_name?: string;
  workloads?: { name: string; kind: string }[];
}

/** flow.TCPFlags. */
export type TcpFlags = Partial<Record<'FIN' | 'SYN' | 'RST' | 'PSH' | 'ACK' | 'URG' | 'ECE' | 'CWR' | 'NS', boolean>>;

/** flow.Layer4 (one of its protocols). */
export interface Layer4 {
  TCP?: { source_port: number; destination_port: number; flags?: TcpFlags };
  UDP?: { source_port: number; destination_port: number };
  SCTP?: { source_port: number; destination_port: number };
  ICMPv4?: { type: number; code: number };
  ICMPv6?: { type: number; code: number };
}

/** flow.DNS: a DNS query or answer the DNS proxy relayed. */
export interface DnsRecordInfo {
  query: string;
  ips?: string[];
  ttl?: number;
  cnames?: string[];
  observation_source?: string;
  rcode?: number;
  qtypes?: string[];
  rrtypes?: string[];
}

/** flow.HTTP: an HTTP request or response an L7 proxy relayed. */
export interface HttpInfo {
  code?: number;
  method?: string;
  url?: string;
  protocol?: string;
  headers?: { key: string; value: string }[];
}

/** flow.Layer7: what an L7 proxy saw (one record kind). */
export interface Layer7 {
  type: 'REQUEST' | 'RESPONSE' | 'SAMPLE';
  latency_ns?: number;
  dns?: DnsRecordInfo;
  http?: HttpInfo;
}

/** flow.Policy: a policy that decided a flow. */
export interface FlowPolicy {
  name: string;
  namespace?: string;
  labels: string[];
  revision?: number;
  kind: string;
}

/** flow.Flow. */
export interface Flow {
  time: Timestamp;
  uuid?: string;
  emitter?: { name: string; version: string };
  verdict: 'FORWARDED' | 'DROPPED' | 'AUDIT' | 'ERROR' | 'REDIRECTED' | 'TRACED' | 'TRANSLATED';
  drop_reason?: number;
  drop_reason_desc?: DropReason;
  IP: { source: string; destination: string; ipVersion: 'IPv4' | 'IPv6' };
  l4?: Layer4;
  source: FlowEndpoint;
  destination: FlowEndpoint;
  Type: 'L3_L4' | 'L7';
  l7?: Layer7;
  node_name: string;
  source_names?: string[];
  destination_names?: string[];
  reply?: boolean;
  event_type: { type: number; sub_type: number };
  source_service?: { name: string; namespace: string };
  destination_service?: { name: string; namespace: string };
  traffic_direction: 'INGRESS' | 'EGRESS' | 'TRAFFIC_DIRECTION_UNKNOWN';
  policy_match_type?: number;
  trace_observation_point?: TraceObservationPoint__Output;
  trace_reason?: TraceReason__Output;
  is_reply?: { value: boolean };
  interface?: { index: number; name: string };
  proxy_port?: number;
  Summary: string;
  egress_allowed_by?: FlowPolicy[];
  ingress_allowed_by?: FlowPolicy[];
  egress_denied_by?: FlowPolicy[];
  ingress_denied_by?: FlowPolicy[];
}

/** flow.FlowFilter as decoded (every repeated field may be absent). */
export interface FlowFilter {
  uuid?: string[];
  source_ip?: string[];
  source_ip_xlated?: string[];
  source_pod?: string[];
  source_fqdn?: string[];
  source_label?: string[];
  source_service?: string[];
  source_workload?: { name?: string; kind?: string }[];
  source_cluster_name?: string[];
  destination_ip?: string[];
  destination_pod?: string[];
  destination_fqdn?: string[];
  destination_label?: string[];
  destination_service?: string[];
  destination_workload?: { name?: string; kind?: string }[];
  destination_cluster_name?: string[];
  traffic_direction?: string[];
  verdict?: string[];
  drop_reason_desc?: string[];
  interface?: { index?: number; name?: string }[];
  event_type?: { type?: number; match_sub_type?: boolean; sub_type?: number }[];
  http_status_code?: string[];
  protocol?: string[];
  source_port?: string[];
  destination_port?: string[];
  reply?: boolean[];
  dns_query?: string[];
  source_identity?: number[];
  destination_identity?: number[];
  http_method?: string[];
  http_path?: string[];
  http_url?: string[];
  http_header?: { key?: string; value?: string }[];
  tcp_flags?: TcpFlags[];
  node_name?: string[];
  node_labels?: string[];
  ip_version?: string[];
  trace_id?: string[];
  ip_trace_id?: number[];
  encrypted?: boolean[];
  experimental?: { cel_expression?: string[] };
}

/** observer.GetFlowsRequest. */
export interface GetFlowsRequest {
  number?: number;
  first?: boolean;
  follow?: boolean;
  blacklist?: FlowFilter[];
  whitelist?: FlowFilter[];
  since?: Partial<Timestamp>;
  until?: Partial<Timestamp>;
}

/** Milliseconds since the epoch of a timestamp. */
export function timestampMs(t: Partial<Timestamp>): number {
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** A timestamp of milliseconds since the epoch. */
export function toTimestamp(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
