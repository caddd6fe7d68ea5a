// Garbage collection of CiliumEndpoints whose pod is gone.
import type { V1Pod } from '@kubernetes/client-node';
import type { CiliumEndpoint } from '../crds/types.generated.ts';
import type { CacheReader, Runnable } from '../runtime/index.ts';
import type { ReconcilerDeps } from './deps.ts';
import { periodic, RateBudget } from './periodic.ts';
import { REFS } from './resources.ts';

/** Whether `cep` belongs to `pod`: same name, and the same UID when the endpoint records its owner. */
export function endpointMatchesPod(cep: CiliumEndpoint, pod: V1Pod | undefined): boolean {
  if (!pod) return false;
  const owner = cep.metadata?.ownerReferences?.find((r) => r.kind === 'Pod');
  return !owner || owner.uid === pod.metadata?.uid;
}

/**
 * One pass: every CiliumEndpoint whose pod (same namespace and name) is absent from the cache is
 * re-checked on the API server, then deleted with a UID precondition, at most as fast as `budget`
 * allows. Returns the number deleted.
 */
export async function collectEndpoints(
  deps: ReconcilerDeps,
  endpoints: CacheReader<CiliumEndpoint>,
  pods: CacheReader<V1Pod>,
  budget: RateBudget,
  signal: AbortSignal,
): Promise<number> {
  let deleted = 0;
  for (const cep of endpoints.list()) {
    const req = { namespace: cep.metadata?.namespace ?? '', name: cep.metadata?.name ?? '' };
    if (endpointMatchesPod(cep, pods.get(`${req.namespace}/${req.name}`))) continue;
    if (endpointMatchesPod(cep, await deps.api.get<V1Pod>(REFS.pod, req))) continue;
    if (!(await budget.take(signal))) break;
    try {
      if (await deps.api.delete(REFS.ciliumEndpoint, req, { uid: cep.metadata?.uid })) {
        deleted++;
        deps.metrics.endpointGcObjects.inc({ outcome: 'success' });
        deps.log.info('deleted CiliumEndpoint of a removed pod', req);
      }
    } catch (err) {
      deps.metrics.endpointGcObjects.inc({ outcome: 'fail' });
      deps.log.warn('deleting CiliumEndpoint failed', { ...req, err });
    }
  }
  return deleted;
}

/** The endpoint GC loop (`endpoint-gc-interval`) as a leader-only runnable. */
export function endpointGc(
  deps: ReconcilerDeps,
  endpoints: CacheReader<CiliumEndpoint>,
  pods: CacheReader<V1Pod>,
  opts: { intervalMs: number; rate: { limit: number; intervalMs: number } },
): Runnable {
  const budget = new RateBudget(opts.rate.limit, opts.rate.intervalMs, deps.clock);
  const log = deps.log.child({ component: 'endpoint-gc' });
  return periodic('endpoint-gc', opts.intervalMs, deps.clock, log, async (signal) => {
    await collectEndpoints({ ...deps, log }, endpoints, pods, budget, signal);
  });
}
