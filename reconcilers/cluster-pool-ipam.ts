// cluster-pool IPAM: writes CiliumNode spec.ipam.podCIDRs from the configured CIDR lists.
import type { CiliumNode } from '../crds/types.generated.ts';
import type { Family } from '../ipam/cidr.ts';
import { ClusterPoolAllocator, type FamilyPoolConfig } from '../ipam/cluster-pool.ts';
import { cachedReconciler, Controller, type Informer, type Runnable } from '../runtime/index.ts';
import type { ReconcilerDeps } from './deps.ts';
import { listForSeeding, reportIpamError, setIpamGauges, specIpamPatch } from './ipam-status.ts';
import { REFS } from './resources.ts';

/** Every node is re-checked this often, as a backstop for missed changes. */
export const RESYNC_MS = 5 * 60_000;

/** How long a node whose pool is exhausted waits before trying again (a config reload also retries at once). */
export const EXHAUSTED_RETRY_MS = 30_000;

/**
 * The cluster-pool allocator as a leader-only runnable. On each start (i.e. on becoming leader)
 * it rebuilds allocator state from a fresh list of CiliumNodes read from the API server, never
 * from memory or a possibly lagging cache, then reconciles nodes one key at a time. Writes carry
 * the resourceVersion they were computed from, so a stale view fails instead of overwriting.
 */
export class ClusterPoolIpam implements Runnable {
  /** Runs only on the leader. */
  readonly needLeaderElection = true;
  private allocator: ClusterPoolAllocator;
  private readonly controller: Controller;
  private readonly deficit = new Set<string>();

  /** Creates the reconciler over the CiliumNode cache. */
  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly ciliumNodes: Informer<CiliumNode>,
    private config: Partial<Record<Family, FamilyPoolConfig>>,
  ) {
    this.allocator = new ClusterPoolAllocator(config);
    const reconciler = cachedReconciler<CiliumNode>(ciliumNodes, {
      apply: async (ctx, cn) => this.apply(cn),
      cleanup: async (ctx, req) => {
        const freed = this.allocator.release(req.name);
        this.released(freed);
        this.deficit.delete(req.name);
        // Nodes waiting on an exhausted pool can use the freed blocks now.
        if (freed.length > 0) for (const key of this.deficit) this.controller.queue.add(key);
        this.updateGauges();
      },
    });
    this.controller = new Controller({
      name: 'cluster-pool-ipam', reconciler, log: deps.log, registry: deps.registry, clock: deps.clock, resyncIntervalMs: RESYNC_MS,
    }).for(ciliumNodes);
  }

  /** Seeds the allocator from the API server, then runs the controller until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const nodes = await listForSeeding(this.deps, signal);
    if (!nodes) return;
    this.allocator = new ClusterPoolAllocator(this.config);
    this.allocator.seed(nodes.map((n) => ({ name: n.metadata?.name ?? '', podCIDRs: n.spec?.ipam?.podCIDRs ?? [], created: n.metadata?.creationTimestamp as string | undefined })));
    this.deps.log.info('cluster-pool allocator seeded', { nodes: nodes.length });
    this.updateGauges();
    await this.controller.start(signal);
  }

  /** Adds CIDRs to a family's list (config reload) and retries every node. Returns the CIDRs added. */
  addCidrs(family: Family, cidrs: readonly string[]): string[] {
    const added = this.allocator.addCidrs(family, cidrs);
    const current = this.config[family];
    if (current) this.config = { ...this.config, [family]: { ...current, cidrs: [...current.cidrs, ...added] } };
    if (added.length > 0) {
      this.deps.log.info('cluster-pool CIDRs added', { family, added });
      for (const key of this.ciliumNodes.keys()) this.controller.queue.add(key);
      this.updateGauges();
    }
    return added;
  }

  private async apply(cn: CiliumNode): Promise<{ requeueAfterMs?: number }> {
    const name = cn.metadata?.name ?? '';
    const a = this.allocator.assign(name, cn.spec?.ipam?.podCIDRs ?? []);
    for (const b of a.allocated) this.deps.metrics.ipamAllocationOps.inc({ subnet_id: this.subnetOf(b) });
    this.released(a.released);
    if (a.changed) await this.deps.api.jsonPatch(REFS.ciliumNode, { name }, specIpamPatch(cn, ['podCIDRs'], a.podCIDRs));
    if (a.error) this.deficit.add(name);
    else this.deficit.delete(name);
    this.updateGauges();
    await reportIpamError(this.deps, cn, a.error ?? '');
    return a.error ? { requeueAfterMs: EXHAUSTED_RETRY_MS } : {};
  }

  private released(blocks: string[]): void {
    for (const b of blocks) this.deps.metrics.ipamReleaseOps.inc({ subnet_id: this.subnetOf(b) });
  }

  private subnetOf(block: string): string {
    const pool = Object.values(this.allocator.pools).find((p) => p?.has(block));
    return pool?.cidrs().join(',') ?? '';
  }

  private updateGauges(): void {
    const stats = Object.values(this.allocator.pools).flatMap((p) => (p ? [p.stats()] : []));
    setIpamGauges(this.deps.metrics, stats, this.ciliumNodes.keys().length, this.deficit.size);
  }
}
