// multi-pool IPAM: fills CiliumNode spec.ipam.pools.allocated from CiliumPodIPPools, for the pools its pods need.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { CiliumNode, CiliumPodIPPool } from '../crds/types.generated.ts';
import { MultiPoolAllocator } from '../ipam/multi-pool.ts';
import { poolForPod } from '../ipam/pool-selection.ts';
import { cachedReconciler, Controller, type CacheReader, type Informer, type Runnable } from '../runtime/index.ts';
import type { ReconcilerDeps } from './deps.ts';
import { listForSeeding, reportIpamError, setIpamGauges, specIpamPatch } from './ipam-status.ts';
import { EXHAUSTED_RETRY_MS } from './cluster-pool-ipam.ts';
import { REFS } from './resources.ts';

/** The caches multi-pool IPAM reads. */
export interface MultiPoolCaches {
  ciliumNodes: Informer<CiliumNode>;
  pools: Informer<CiliumPodIPPool>;
  pods: Informer<V1Pod>;
  namespaces: Informer<V1Namespace>;
}

/**
 * Addresses node `name` needs per pool: its own `spec.ipam.pools.requested` plus one per pod
 * scheduled there (not host-network, not finished), each pod counted in the pool its
 * annotation, or its namespace's, selects.
 */
export function neededPools(cn: CiliumNode, pods: CacheReader<V1Pod>, namespaces: CacheReader<V1Namespace>): Map<string, number> {
  const needed = new Map<string, number>();
  for (const r of cn.spec?.ipam?.pools?.requested ?? []) {
    needed.set(r.pool, (needed.get(r.pool) ?? 0) + (r.needed?.['ipv4-addrs'] ?? r.needed?.['ipv6-addrs'] ?? 0));
  }
  const name = cn.metadata?.name;
  for (const pod of pods.list()) {
    if (pod.spec?.nodeName !== name || pod.spec?.hostNetwork) continue;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const pool = poolForPod(pod, namespaces.get(pod.metadata?.namespace ?? ''));
    needed.set(pool, (needed.get(pool) ?? 0) + 1);
  }
  return needed;
}

/** multi-pool IPAM as a leader-only runnable; state is rebuilt from a fresh CiliumNode list on every start. */
export class MultiPoolIpam implements Runnable {
  /** Runs only on the leader. */
  readonly needLeaderElection = true;
  private allocator = new MultiPoolAllocator();
  private readonly controller: Controller;
  private readonly deficit = new Set<string>();

  /** Creates the reconciler; node keys are enqueued on changes to nodes, pods, namespaces and pools. */
  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly caches: MultiPoolCaches,
  ) {
    const { ciliumNodes, pods, namespaces, pools } = caches;
    const reconciler = cachedReconciler<CiliumNode>(ciliumNodes, {
      apply: async (ctx, cn) => this.apply(cn),
      cleanup: async (ctx, req) => {
        this.allocator.release(req.name);
        this.deficit.delete(req.name);
        this.updateGauges();
      },
    });
    const allNodes = (): string[] => ciliumNodes.keys();
    this.controller = new Controller({ name: 'multi-pool-ipam', reconciler, log: deps.log, registry: deps.registry, clock: deps.clock })
      .for(ciliumNodes)
      .watches(pods, (pod) => (pod.spec?.nodeName ? [pod.spec.nodeName] : []))
      .watches(namespaces, allNodes)
      .watches(pools, allNodes);
  }

  /** Loads the pools and what nodes already hold (a quorum read), then runs the controller. */
  async start(signal: AbortSignal): Promise<void> {
    const nodes = await listForSeeding(this.deps, signal);
    if (!nodes) return;
    this.allocator = new MultiPoolAllocator();
    for (const p of this.caches.pools.list()) this.upsert(p);
    this.allocator.seed(
      nodes.map((n) => ({
        name: n.metadata?.name ?? '',
        created: n.metadata?.creationTimestamp as string | undefined,
        allocated: (n.spec?.ipam?.pools?.allocated ?? []).map((a) => ({ pool: a.pool, cidrs: a.cidrs ?? [] })),
      })),
    );
    await this.controller.start(signal);
  }

  private updateGauges(): void {
    setIpamGauges(this.deps.metrics, this.allocator.stats(), this.caches.ciliumNodes.keys().length, this.deficit.size);
  }

  private upsert(pool: CiliumPodIPPool): string | undefined {
    return this.allocator.upsertPool(pool.metadata?.name ?? '', pool.spec ?? {});
  }

  private async apply(cn: CiliumNode): Promise<{ requeueAfterMs?: number }> {
    const name = cn.metadata?.name ?? '';
    const needed = neededPools(cn, this.caches.pods, this.caches.namespaces);
    const errors: string[] = [];
    for (const pool of needed.keys()) {
      const obj = this.caches.pools.get(pool);
      const err = obj ? this.upsert(obj) : undefined;
      if (err) errors.push(err);
    }
    const current = (cn.spec?.ipam?.pools?.allocated ?? []).map((a) => ({ pool: a.pool, cidrs: a.cidrs ?? [] }));
    const a = this.allocator.assign(name, needed, current);
    for (const x of a.allocated) {
      for (const block of x.cidrs) {
        if (!current.some((c) => c.cidrs.includes(block))) this.deps.metrics.ipamAllocationOps.inc({ subnet_id: x.pool });
      }
    }
    if (a.changed) await this.deps.api.jsonPatch(REFS.ciliumNode, { name }, specIpamPatch(cn, ['pools', 'allocated'], a.allocated));
    errors.push(...a.errors);
    if (errors.length) this.deficit.add(name);
    else this.deficit.delete(name);
    this.updateGauges();
    await reportIpamError(this.deps, cn, errors.join('; '));
    return errors.length ? { requeueAfterMs: EXHAUSTED_RETRY_MS } : {};
  }
}
