/**
 * What flows say about their ends beyond pods: the workload that owns a pod (from its controller
 * reference, a ReplicaSet read as its Deployment as upstream does) and the Service whose backend an
 * address and port are (from the cluster's EndpointSlices: a flow to or from a Service's backend
 * names that Service, whether or not it went through the Service's address).
 */
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { Informer } from '../runtime/informer.ts';

/** flow.Workload. */
export interface FlowWorkload {
  name: string;
  kind: string;
}

/** flow.Service. */
export interface FlowService {
  name: string;
  namespace: string;
}

/** The workload owning a pod: its controller, a ReplicaSet of a Deployment as that Deployment. */
export function workloadOf(pod: V1Pod): FlowWorkload | undefined {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return undefined;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return { name: owner.name.slice(0, -hash.length - 1), kind: 'Deployment' };
  }
  return { name: owner.name, kind: owner.kind };
}

/**
 * The annotation on a CiliumEndpoint naming its pod's workload as `Kind/name`, written by the
 * pod's own agent, so that other nodes' flows name the workloads of pods they do not watch.
 */
export const WORKLOAD_ANNOTATION = 'hubble.ciliate.io/workload';

/** The annotation value for a workload. */
export function workloadAnnotation(w: FlowWorkload): string {
  return `${w.kind}/${w.name}`;
}

/** The workload an annotation value names; undefined when it is absent or not `Kind/name`. */
export function parseWorkloadAnnotation(value: string | undefined): FlowWorkload | undefined {
  const slash = value?.indexOf('/') ?? -1;
  if (!value || slash <= 0 || slash === value.length - 1) return undefined;
  return { kind: value.slice(0, slash), name: value.slice(slash + 1) };
}

/**
 * A lookup of the Service whose backend `ip`:`port` (IP protocol number) is, kept current by
 * `slices`. Kept by address first, so that the many lookups of addresses that back no Service
 * (every flow asks for both ends) cost one map miss and build no key.
 */
export function serviceBackendIndex(slices: Informer<V1EndpointSlice>): (ip: string, port: number, protocol: number) => FlowService | undefined {
  /** address -> port and protocol (port * 256 + protocol) -> slice -> Service. */
  const byBackend = new Map<string, Map<number, Map<string, FlowService>>>();
  const PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };
  const keysOf = (s: V1EndpointSlice): Array<[string, number]> => (s.endpoints ?? []).flatMap((e) => e.addresses.flatMap((ip) => (s.ports ?? []).flatMap((p) => (
    p.port ? [[ip, p.port * 256 + (PROTOCOLS[p.protocol ?? 'TCP'] ?? 0)] as [string, number]] : []))));
  const remove = (ip: string, port: number, slice: string) => {
    const ports = byBackend.get(ip), entry = ports?.get(port);
    if (!ports || !entry) return;
    entry.delete(slice);
    if (entry.size === 0) ports.delete(port);
    if (ports.size === 0) byBackend.delete(ip);
  };
  slices.addHandler(({ type, object, old }) => {
    const slice = `${object.metadata?.namespace}/${object.metadata?.name}`;
    for (const [ip, port] of old ? keysOf(old) : []) remove(ip, port, slice);
    for (const [ip, port] of keysOf(object)) {
      if (type === 'deleted') {
        remove(ip, port, slice);
        continue;
      }
      let ports = byBackend.get(ip);
      if (!ports) byBackend.set(ip, (ports = new Map()));
      let entry = ports.get(port);
      if (!entry) ports.set(port, (entry = new Map()));
      entry.set(slice, { name: object.metadata?.labels?.['kubernetes.io/service-name'] ?? '', namespace: object.metadata?.namespace ?? '' });
    }
  });
  return (ip, port, protocol) => {
    const entry = byBackend.get(ip)?.get(port * 256 + protocol);
    if (!entry) return undefined;
    for (const svc of entry.values()) if (svc.name) return svc;
    return undefined;
  };
}
