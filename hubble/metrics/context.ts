/**
 * The context labels of a Hubble metric (`labelsContext`, then `source`, then `destination`): their
 * names, and a filler that writes a flow's values for them into a caller's buffer, so counting a
 * flow allocates nothing beyond the strings it joins.
 */
import type { Flow, FlowEndpoint } from '../flow-types.ts';
import type { ContextIdentifier, ContextLabel, ContextOptions } from './options.ts';

/** Writes a flow's context values into `out` from `at`; returns the next free index. */
export type ContextFiller = (flow: Flow, out: string[], at: number) => number;

/** Names and filler of a metric's context labels. */
export interface CompiledContext {
  names: string[];
  fill: ContextFiller;
}

const SHORT_POD = /^(.+?)(-[a-z0-9]+){1,2}$/;
const APP_LABELS = ['k8s:app.kubernetes.io/name=', 'k8s:k8s-app=', 'k8s:app='];
const KUBE_APISERVER = 'reserved:kube-apiserver';

/** The app name from an endpoint's labels (`app.kubernetes.io/name`, `k8s-app`, `app`). */
function appOf(ep: FlowEndpoint): string {
  for (const prefix of APP_LABELS) {
    const l = ep.labels?.find((x) => x.startsWith(prefix) && x.length > prefix.length);
    if (l) return l.slice(prefix.length);
  }
  return '';
}

/** `reserved:kube-apiserver` when present, else the first reserved label. */
function reservedOf(ep: FlowEndpoint): string {
  const labels = ep.labels ?? [];
  if (labels.includes(KUBE_APISERVER)) return KUBE_APISERVER;
  return labels.find((l) => l.startsWith('reserved:')) ?? '';
}

/** Joined names already made, by namespace and name, so a flow's labels are mostly strings seen before. */
const QUALIFIED = new Map<string, Map<string, string>>();
let qualifiedCount = 0;
const QUALIFIED_MAX = 16384;

/** `namespace/name`, or the name alone outside a namespace. */
function qualified(namespace: string | undefined, name: string): string {
  if (!namespace) return name;
  let names = QUALIFIED.get(namespace);
  const known = names?.get(name);
  if (known !== undefined) return known;
  if (qualifiedCount >= QUALIFIED_MAX) {
    QUALIFIED.clear();
    qualifiedCount = 0;
    names = undefined;
  }
  if (!names) QUALIFIED.set(namespace, (names = new Map()));
  const joined = `${namespace}/${name}`;
  names.set(name, joined);
  qualifiedCount++;
  return joined;
}

/** One context identifier's value for the source (`src`) or destination side of a flow. */
function identifierValue(id: ContextIdentifier, flow: Flow, src: boolean): string {
  const ep = src ? flow.source : flow.destination;
  switch (id) {
    case 'identity': return (ep.labels ?? []).join(',');
    case 'namespace': return ep.namespace ?? '';
    case 'pod': return ep.pod_name ? qualified(ep.namespace, ep.pod_name) : '';
    case 'pod-name': return ep.pod_name ?? '';
    case 'pod-short': return ep.pod_name ? qualified(ep.namespace, ep.pod_name.replace(SHORT_POD, '$1')) : '';
    case 'dns': return ((src ? flow.source_names : flow.destination_names) ?? []).join(',');
    case 'ip': return (src ? flow.IP.source : flow.IP.destination) ?? '';
    case 'reserved-identity': return reservedOf(ep);
    case 'workload': return ep.workloads?.[0] ? qualified(ep.namespace, ep.workloads[0].name) : '';
    case 'workload-name': return ep.workloads?.[0]?.name ?? '';
    case 'app': return appOf(ep);
  }
}

/** One `labelsContext` label's value. */
function labelValue(label: ContextLabel, flow: Flow): string {
  const src = label.startsWith('source_');
  const ep = src ? flow.source : flow.destination;
  switch (label) {
    case 'source_ip': case 'destination_ip': return (src ? flow.IP.source : flow.IP.destination) ?? '';
    case 'source_pod': case 'destination_pod': return ep.pod_name ?? '';
    case 'source_namespace': case 'destination_namespace': return ep.namespace ?? '';
    case 'source_workload': case 'destination_workload': return ep.workloads?.[0]?.name ?? '';
    case 'source_workload_kind': case 'destination_workload_kind': return ep.workloads?.[0]?.kind ?? '';
    case 'source_app': case 'destination_app': return appOf(ep);
    case 'traffic_direction': {
      const d = flow.traffic_direction;
      return d === 'INGRESS' ? 'ingress' : d === 'EGRESS' ? 'egress' : 'unknown';
    }
  }
}

/** The first non-empty value of `ids` (the direction-specific list when set for the flow's direction). */
function sideValue(flow: Flow, src: boolean, any: ContextIdentifier[], egress: ContextIdentifier[], ingress: ContextIdentifier[]): string {
  const ids = flow.traffic_direction === 'EGRESS' && egress.length ? egress
    : flow.traffic_direction === 'INGRESS' && ingress.length ? ingress : any;
  for (const id of ids) {
    const v = identifierValue(id, flow, src);
    if (v) return v;
  }
  return '';
}

/** Compiles a metric's context options. */
export function compileContext(o: ContextOptions): CompiledContext {
  const names: string[] = [...o.labels];
  const hasSource = o.source.length + o.sourceEgress.length + o.sourceIngress.length > 0;
  const hasDestination = o.destination.length + o.destinationEgress.length + o.destinationIngress.length > 0;
  if (hasSource) names.push('source');
  if (hasDestination) names.push('destination');
  const labels = o.labels;
  return {
    names,
    fill(flow, out, at) {
      for (const l of labels) out[at++] = labelValue(l, flow);
      if (hasSource) out[at++] = sideValue(flow, true, o.source, o.sourceEgress, o.sourceIngress);
      if (hasDestination) out[at++] = sideValue(flow, false, o.destination, o.destinationEgress, o.destinationIngress);
      return at;
    },
  };
}
