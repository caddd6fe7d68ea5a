/**
 * A Hubble flow as the service map draws it: both ends as graph nodes (a workload of a namespace,
 * or a reserved entity such as world or host), the Service the flow went to, its port, verdict, and
 * in words why it was decided: the drop reason and the policies that denied or allowed it, or "no
 * rule allowed it" for a policy drop that no deny rule caused (default deny).
 */
import type { Flow, FlowEndpoint, FlowPolicy } from '../flow-types.ts';
import { timestampMs } from '../flow-types.ts';

/** One end of a flow as a node of the map. */
export interface UiEndpoint {
  /** The map node's key: `ns/workload`, or `reserved:<entity>` outside pods. */
  id: string;
  /** The workload (or entity) name shown on the node. */
  workload: string;
  namespace?: string;
  pod?: string;
  ip: string;
  identity: number;
}

/** A flow as the page gets it. */
export interface UiFlow {
  uuid: string;
  /** Milliseconds since the epoch. */
  time: number;
  verdict: string;
  source: UiEndpoint;
  destination: UiEndpoint;
  /** `ns/name` of the Service the flow was sent to, when known. */
  service?: string;
  protocol: string;
  port?: number;
  direction: string;
  /** The flow.DropReason name of a drop. */
  dropReason?: string;
  /** Why the flow was decided, in words; empty when no policy took part. */
  rule: string;
  summary: string;
  node: string;
  reply: boolean;
}

/** Labels naming the workload of a pod, most specific first (`k8s:` source prefix as in identities). */
const WORKLOAD_LABELS = ['app.kubernetes.io/name', 'app', 'k8s-app', 'name'];
/** A ReplicaSet pod's `-<template hash>-<suffix>`, or a generated `-<suffix>`. */
const GENERATED_SUFFIX = /(-[a-z0-9]{6,10})?-[a-z0-9]{5}$/;

/** The value of label `key` among identity labels such as `k8s:app=server`. */
function labelValue(labels: readonly string[], key: string): string | undefined {
  for (const l of labels) {
    const colon = l.indexOf(':');
    const kv = colon >= 0 && colon < l.indexOf('=') ? l.slice(colon + 1) : l;
    if (kv.startsWith(`${key}=`)) return kv.slice(key.length + 1);
  }
  return undefined;
}

/** The reserved entity of an endpoint outside pods (`reserved:world` and kin), if any. */
function reservedEntity(labels: readonly string[]): string | undefined {
  const r = labels.find((l) => l.startsWith('reserved:'));
  return r?.slice('reserved:'.length);
}

/** The workload an endpoint belongs to: its workload, workload label, or pod name without generated suffixes. */
export function workloadOf(e: FlowEndpoint): string | undefined {
  const labels = e.labels ?? [];
  if (e.workloads?.[0]?.name) return e.workloads[0].name;
  for (const key of WORKLOAD_LABELS) {
    const v = labelValue(labels, key);
    if (v) return v;
  }
  return e.pod_name ? e.pod_name.replace(GENERATED_SUFFIX, '') || e.pod_name : undefined;
}

function uiEndpoint(e: FlowEndpoint, ip: string): UiEndpoint {
  const workload = workloadOf(e);
  // A pod known only by its identity (no address, e.g. a non-IP frame) still has its namespace label.
  const namespace = e.namespace || labelValue(e.labels ?? [], 'io.kubernetes.pod.namespace');
  if (namespace && workload) {
    return { id: `${namespace}/${workload}`, workload, namespace, ...(e.pod_name ? { pod: e.pod_name } : {}), ip, identity: e.identity };
  }
  const entity = reservedEntity(e.labels ?? []) ?? (e.identity ? `identity-${e.identity}` : 'unknown');
  return { id: `reserved:${entity}`, workload: entity, ip, identity: e.identity };
}

/** flow.DropReason names of drops decided by policy. */
const POLICY_DROPS = new Set(['POLICY_DENIED', 'POLICY_DENY']);

/** `Kind ns/name` of a policy. */
function policyName(p: FlowPolicy): string {
  return `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
}

/** Why the flow was decided, in words. */
export function ruleText(f: Flow): string {
  const denied = [...(f.ingress_denied_by ?? []), ...(f.egress_denied_by ?? [])];
  const allowed = [...(f.ingress_allowed_by ?? []), ...(f.egress_allowed_by ?? [])];
  if (denied.length) return `denied by ${denied.map(policyName).join(', ')}`;
  if (f.verdict === 'DROPPED') {
    // A policy drop no deny rule claims: nothing allowed it (POLICY_DENIED, 133; POLICY_DENY is a deny's).
    return POLICY_DROPS.has(String(f.drop_reason_desc ?? '')) ? 'no rule allowed it (default deny)' : '';
  }
  if (allowed.length) return `allowed by ${allowed.map(policyName).join(', ')}`;
  return '';
}

/** The protocol and destination port of a flow. */
function layer4(f: Flow): { protocol: string; port?: number } {
  const l4 = f.l4 ?? {};
  if (l4.TCP) return { protocol: 'TCP', port: l4.TCP.destination_port };
  if (l4.UDP) return { protocol: 'UDP', port: l4.UDP.destination_port };
  if (l4.SCTP) return { protocol: 'SCTP', port: l4.SCTP.destination_port };
  if (l4.ICMPv4) return { protocol: 'ICMPv4' };
  if (l4.ICMPv6) return { protocol: 'ICMPv6' };
  return { protocol: 'IP' };
}

/** The page's view of `f`; `service` names the Service when the flow does not (e.g. from the cluster's EndpointSlices). */
export function toUiFlow(f: Flow, service?: string): UiFlow {
  const svc = f.destination_service?.name ? `${f.destination_service.namespace}/${f.destination_service.name}` : service;
  const reply = f.is_reply?.value ?? f.reply ?? false;
  const drop = f.verdict === 'DROPPED' && f.drop_reason_desc !== undefined ? String(f.drop_reason_desc) : undefined;
  return {
    uuid: f.uuid ?? '',
    time: timestampMs(f.time),
    verdict: f.verdict,
    source: uiEndpoint(f.source, f.IP?.source ?? ''),
    destination: uiEndpoint(f.destination, f.IP?.destination ?? ''),
    ...(svc ? { service: svc } : {}),
    ...layer4(f),
    direction: f.traffic_direction,
    ...(drop !== undefined ? { dropReason: drop } : {}),
    rule: ruleText(f),
    summary: f.Summary ?? '',
    node: f.node_name ?? '',
    reply,
  };
}
