// Identity garbage collection with upstream's heartbeat protocol on CiliumIdentity objects.
import type { CiliumEndpoint, CiliumIdentity } from '../crds/types.generated.ts';
import type { CacheReader, JsonPatchOp, Runnable } from '../runtime/index.ts';
import { isConflict } from './api.ts';
import type { ReconcilerDeps } from './deps.ts';
import { periodic, RateBudget } from './periodic.ts';
import { REFS } from './resources.ts';

/** Annotation marking an identity found unused, with the time it was first found so. */
export const HEARTBEAT_ANNOTATION = 'io.cilium.heartbeat';

/** Identity GC settings. */
export interface IdentityGcOptions {
  /** `identity-gc-interval`. */
  intervalMs: number;
  /** `identity-heartbeat-timeout`: how long an identity stays marked before deletion. */
  heartbeatTimeoutMs: number;
  /** `identity-gc-rate-limit` deletions per `identity-gc-rate-interval`. */
  rate: { limit: number; intervalMs: number };
}

/** Tally of one GC run. */
export interface IdentityGcTally {
  alive: number;
  marked: number;
  deleted: number;
}

const ANNOTATION_PATH = `/metadata/annotations/${HEARTBEAT_ANNOTATION.replaceAll('~', '~0').replaceAll('/', '~1')}`;

/**
 * One pass over all identities. An identity used by a CiliumEndpoint is alive (a stale mark is
 * removed). An unused one without a mark is marked with the current time; one marked at least
 * `heartbeatTimeoutMs` ago is deleted, guarded by its resourceVersion so a concurrent reuse
 * (which removes the mark) wins; conflicts are left for the next run.
 */
export async function collectIdentities(
  deps: ReconcilerDeps,
  identities: CacheReader<CiliumIdentity>,
  endpoints: CacheReader<CiliumEndpoint>,
  opts: IdentityGcOptions,
  budget: RateBudget,
  signal: AbortSignal,
): Promise<IdentityGcTally> {
  const used = new Set(endpoints.list().map((e) => String(e.status?.identity?.id ?? '')));
  const tally: IdentityGcTally = { alive: 0, marked: 0, deleted: 0 };
  const now = deps.clock.now();
  for (const id of identities.list()) {
    if (signal.aborted) break;
    const name = id.metadata?.name ?? '';
    const mark = id.metadata?.annotations?.[HEARTBEAT_ANNOTATION];
    const guard: JsonPatchOp = { op: 'test', path: '/metadata/resourceVersion', value: id.metadata?.resourceVersion };
    try {
      if (used.has(name)) {
        tally.alive++;
        if (mark !== undefined) await deps.api.jsonPatch(REFS.ciliumIdentity, { name }, [guard, { op: 'remove', path: ANNOTATION_PATH }]);
        continue;
      }
      const since = mark === undefined ? NaN : Date.parse(mark);
      if (Number.isNaN(since)) {
        tally.marked++;
        const stamp = new Date(now).toISOString();
        const ops: JsonPatchOp[] = id.metadata?.annotations
          ? [guard, { op: 'add', path: ANNOTATION_PATH, value: stamp }]
          : [guard, { op: 'add', path: '/metadata/annotations', value: { [HEARTBEAT_ANNOTATION]: stamp } }];
        await deps.api.jsonPatch(REFS.ciliumIdentity, { name }, ops);
      } else if (now - since >= opts.heartbeatTimeoutMs) {
        if (!(await budget.take(signal))) break;
        await deps.api.delete(REFS.ciliumIdentity, { name }, { uid: id.metadata?.uid, resourceVersion: id.metadata?.resourceVersion });
        tally.deleted++;
        deps.log.info('deleted unused identity', { identity: name, markedAt: mark });
      } else tally.marked++;
    } catch (err) {
      if (!isConflict(err)) throw err;
      deps.log.debug('identity changed during GC, retrying next run', { identity: name });
    }
  }
  return tally;
}

/** The identity GC loop as a leader-only runnable, recording upstream's identity_gc_* metrics. */
export function identityGc(
  deps: ReconcilerDeps,
  identities: CacheReader<CiliumIdentity>,
  endpoints: CacheReader<CiliumEndpoint>,
  opts: IdentityGcOptions,
): Runnable {
  const budget = new RateBudget(opts.rate.limit, opts.rate.intervalMs, deps.clock);
  const log = deps.log.child({ component: 'identity-gc' });
  return periodic('identity-gc', opts.intervalMs, deps.clock, log, async (signal) => {
    try {
      const t = await collectIdentities({ ...deps, log }, identities, endpoints, opts, budget, signal);
      deps.metrics.identityGcEntries.set({ status: 'alive' }, t.alive);
      deps.metrics.identityGcEntries.set({ status: 'marked' }, t.marked);
      deps.metrics.identityGcEntries.set({ status: 'deleted' }, t.deleted);
      deps.metrics.identityGcRuns.inc({ outcome: 'success' });
    } catch (err) {
      deps.metrics.identityGcRuns.inc({ outcome: 'fail' });
      throw err;
    }
  });
}
