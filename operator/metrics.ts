// The operator's Prometheus metrics, under upstream's cilium_operator_ names where upstream has one.
import type { Registry } from 'prom-client';
import { counter, gauge } from '../runtime/metrics.ts';

/** Metrics written by the IPAM and garbage-collection reconcilers. */
export interface OperatorMetrics {
  /** `cilium_operator_ipam_ips{type=available|used}`: pod addresses in free and allocated blocks. */
  ipamIps: ReturnType<typeof gauge<'type'>>;
  /** `cilium_operator_ipam_ip_allocation_ops{subnet_id}`: blocks handed out, per pool CIDR list. */
  ipamAllocationOps: ReturnType<typeof counter<'subnet_id'>>;
  /** `cilium_operator_ipam_ip_release_ops{subnet_id}`: blocks given back. */
  ipamReleaseOps: ReturnType<typeof counter<'subnet_id'>>;
  /** `cilium_operator_ipam_nodes{category=total|in-deficit}`: nodes, and nodes whose request could not be met. */
  ipamNodes: ReturnType<typeof gauge<'category'>>;
  /** `cilium_operator_identity_gc_entries{status=alive|marked|deleted}`: identities seen by the last run. */
  identityGcEntries: ReturnType<typeof gauge<'status'>>;
  /** `cilium_operator_identity_gc_runs{outcome=success|fail}`: identity GC runs. */
  identityGcRuns: ReturnType<typeof gauge<'outcome'>>;
  /** `cilium_operator_endpoint_gc_objects{outcome=success|fail}`: CiliumEndpoints collected. */
  endpointGcObjects: ReturnType<typeof counter<'outcome'>>;
}

/** Registers (or finds) the operator metrics in `registry`. */
export function operatorMetrics(registry: Registry): OperatorMetrics {
  const p = 'cilium_operator_';
  return {
    ipamIps: gauge(registry, `${p}ipam_ips`, 'Pod IP addresses in allocated (used) and free (available) blocks', ['type']),
    ipamAllocationOps: counter(registry, `${p}ipam_ip_allocation_ops`, 'Pod CIDR blocks allocated to nodes', ['subnet_id']),
    ipamReleaseOps: counter(registry, `${p}ipam_ip_release_ops`, 'Pod CIDR blocks released from nodes', ['subnet_id']),
    ipamNodes: gauge(registry, `${p}ipam_nodes`, 'Nodes by IPAM category', ['category']),
    identityGcEntries: gauge(registry, `${p}identity_gc_entries`, 'Identities seen by the last GC run, by status', ['status']),
    identityGcRuns: gauge(registry, `${p}identity_gc_runs`, 'Identity GC runs by outcome', ['outcome']),
    endpointGcObjects: counter(registry, `${p}endpoint_gc_objects`, 'CiliumEndpoints garbage collected, by outcome', ['outcome']),
  };
}
