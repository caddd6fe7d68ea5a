/**
 * Ciliate's controller runtime: level-triggered controllers over client-node list/watch.
 *
 * Pieces, in the order data flows through them:
 * - {@link Informer} (informer.ts) keeps a cache of one resource in sync via a ListWatchSource
 *   and tells handlers about changes; {@link mapSelf}/{@link mapOwner} turn changes into keys.
 * - {@link WorkQueue} (workqueue.ts) deduplicates keys, serialises work per key and backs off
 *   failing keys ({@link RateLimiter}).
 * - {@link Controller} (controller.ts) runs workers calling a {@link Reconciler} with only the
 *   key; errors retry with backoff, {@link TerminalError}s do not, `requeueAfterMs` polls.
 * - {@link Manager} (manager.ts) starts caches, waits for sync, starts controllers, and runs
 *   leader-only work under a {@link LeaderElector} (leader-election.ts).
 * - status.ts/conditions.ts and events.ts report back to users.
 * - reconciler/ drives desired tables (rows with revision, origin and status) into targets such as
 *   BPF maps: {@link DesiredTable}, {@link Operations}, {@link TableReconciler}.
 *
 * Typical wiring (see test/runtime/cluster.test.ts for a running version):
 * ```ts
 * const policies = kubeInformer<CNP>(kc, cnpRef);                  // from ./kube.ts
 * const pods = kubeInformer<V1Pod>(kc, podRef);
 * const ctrl = new Controller({ name: 'cnp', registry, log, resyncIntervalMs: 600_000,
 *     reconciler: cachedReconciler(policies, { apply: async (ctx, cnp, req) => { ... } }) })
 *   .for(policies)
 *   .watches(pods, mapMatching(policies, (cnp, pod) => selects(cnp, pod)));
 * await new Manager({ log, leaderElection: (cb) => new LeaderElector({ ... }, cb) })
 *   .addCache(policies).addCache(pods).add(ctrl)
 *   .start(signal);
 * ```
 *
 * This entry point never loads @kubernetes/client-node at run time, so unit tests of
 * reconcilers can import it anywhere; the API-backed adapters are in `./kube.ts`.
 */
export * from './cached-reconciler.ts';
export * from './clock.ts';
export * from './api-errors.ts';
export * from './conditions.ts';
export * from './controller.ts';
export * from './controller-metrics.ts';
export * from './events.ts';
export * from './handlers.ts';
export * from './informer.ts';
export * from './leader-election.ts';
export * from './list-watch.ts';
export * from './logger.ts';
export * from './manager.ts';
export * from './micro-time.ts';
export * from './rate-limiter.ts';
export * from './reconciler/operations.ts';
export * from './reconciler/reconciler.ts';
export * from './reconciler/table.ts';
export * from './reconcile.ts';
export * from './resource.ts';
export { statusJsonPatch, type JsonPatchOp, type StatusWriter } from './status.ts';
export * from './workqueue.ts';
export * from './workqueue-metrics.ts';
