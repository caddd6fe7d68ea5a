// Reporting IPAM problems on a CiliumNode: status.ipam.operator-status.error plus a Warning Event.
import type { CiliumNode } from '../crds/types.generated.ts';
import type { JsonPatchOp } from '../runtime/index.ts';
import type { OperatorMetrics } from '../operator/metrics.ts';
import { retrying } from './api.ts';
import type { ReconcilerDeps } from './deps.ts';
import { REFS } from './resources.ts';

/** Event reason for a node whose pod CIDRs could not be allocated. */
export const ALLOCATION_FAILED = 'IPAMAllocationFailed';

/**
 * Sets (or, with an empty `error`, clears) the node's `status.ipam.operator-status.error`, and
 * records a Warning Event when an error is newly reported.
 */
export async function reportIpamError(deps: ReconcilerDeps, cn: CiliumNode, error: string): Promise<void> {
  const current = cn.status?.ipam?.['operator-status']?.error ?? '';
  if (error) deps.events.event(cn, 'Warning', ALLOCATION_FAILED, 'AllocatePodCIDR', error);
  if (current === error) return;
  await deps.status(REFS.ciliumNode).mergePatch({ name: cn.metadata?.name ?? '' }, {
    status: { ipam: { 'operator-status': { error: error || null } } },
  });
}

/** JSON Patch ops setting `/spec/ipam/<path>` to `value`, creating parents as needed, guarded by resourceVersion. */
export function specIpamPatch(cn: CiliumNode, path: string[], value: unknown): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [{ op: 'test', path: '/metadata/resourceVersion', value: cn.metadata?.resourceVersion }];
  let at: unknown = cn.spec?.ipam;
  if (at === undefined) {
    const nested = path.reduceRight<unknown>((v, key) => ({ [key]: v }), value);
    return [...ops, { op: 'add', path: '/spec/ipam', value: nested }];
  }
  const walked: string[] = ['', 'spec', 'ipam'];
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    const next = (at as Record<string, unknown>)[key];
    walked.push(key);
    if (next === undefined || i === path.length - 1) {
      const nested = path.slice(i + 1).reduceRight<unknown>((v, k) => ({ [k]: v }), value);
      return [...ops, { op: 'add', path: walked.join('/'), value: nested }];
    }
    at = next;
  }
  return ops;
}

/** Sets the ipam_ips and ipam_nodes gauges from pool statistics and node counts. */
export function setIpamGauges(
  metrics: OperatorMetrics,
  pools: ReadonlyArray<{ capacity: number; allocated: number; blockSize: number }>,
  nodes: number,
  inDeficit: number,
): void {
  let used = 0;
  let available = 0;
  for (const s of pools) {
    used += s.allocated * s.blockSize;
    available += (s.capacity - s.allocated) * s.blockSize;
  }
  metrics.ipamIps.set({ type: 'used' }, used);
  metrics.ipamIps.set({ type: 'available' }, available);
  metrics.ipamNodes.set({ category: 'total' }, nodes);
  metrics.ipamNodes.set({ category: 'in-deficit' }, inDeficit);
}

/**
 * Every CiliumNode straight from the API server (a quorum read, not the cache), retried until it
 * succeeds: allocator state on a new leader is built from this, never from memory. Undefined if
 * `signal` aborts first.
 */
export function listForSeeding(deps: ReconcilerDeps, signal: AbortSignal): Promise<CiliumNode[] | undefined> {
  return retrying(() => deps.api.list<CiliumNode>(REFS.ciliumNode), signal, (err) => deps.log.warn('listing CiliumNodes failed, retrying', { err }));
}
