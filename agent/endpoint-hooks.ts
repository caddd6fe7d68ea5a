/**
 * What CNI ADD and DEL do for enforcement, and when they may. ADD waits until every cache has synced,
 * the kernel side is open (this module's start hook, registered after the kernel's) and the engine
 * has been primed from the caches, so a new pod is never computed against a partial set of
 * policies; it answers once the endpoint's policy rows and the ipcache are in the kernel
 * (read-your-writes). After an agent restart the pinned maps keep enforcing the last state until
 * `restore()` recomputes them from a synced view of the cluster.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from '../runtime/informer.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { Lifecycle } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/logger.ts';
import { deleteCep } from './cep.ts';
import type { RegenerationObserver } from './core-metrics.ts';
import type { EndpointEnforcer, EndpointRequest } from './endpoint-enforcer.ts';
import type { EndpointStatus } from './endpoint-status.ts';
import type { EnforcementCaches } from './enforcement-caches.ts';
import type { PolicyPath } from './policy-module.ts';

/** The endpoint as the CNI side hands it over (structurally the CNI endpoint record). */
export interface CniEndpoint {
  key: string;
  containerId: string;
  ip: string;
  hostIf: string;
  podNamespace: string;
  podName: string;
  podUid: string;
}

/** What the hooks need. */
export interface EndpointHooksDeps {
  kc: KubeConfig;
  caches: EnforcementCaches;
  path: PolicyPath;
  enforcer: EndpointEnforcer;
  status: EndpointStatus;
  regenerated?: RegenerationObserver;
  lifecycle: Lifecycle;
  log: Logger;
}

/** The CNI endpoint manager's hooks, and the restore of endpoints from before a restart. */
export interface EndpointHooks {
  /** Whether an endpoint has been asked for yet (readiness has begun). */
  started(): boolean;
  beforeAddReturns(ep: CniEndpoint): Promise<void>;
  afterDelete(ep: CniEndpoint): Promise<void>;
  /** Re-enforces endpoints that existed before a restart (call once; waits for the caches). */
  restore(endpoints: CniEndpoint[]): Promise<void>;
}

/** Builds the hooks; registers the start hook that marks the kernel side open. */
export function endpointHooks(d: EndpointHooksDeps): EndpointHooks {
  const { enforcer, status, log } = d;
  const request = kubeRequester(d.kc);
  let opened!: () => void;
  const kernelOpened = new Promise<void>((resolve) => (opened = resolve));
  d.lifecycle.append({ name: 'endpoints', start: () => opened() });

  // Before the first endpoint is computed: every cache synced, the kernel side open, and the engine primed from them.
  let ready: Promise<void> | undefined;
  const whenReady = () => (ready ??= (async () => {
    await Promise.all([...d.caches.all, d.caches.nodes as Informer<KubernetesObject>].map((c) => c.waitForSync()));
    await kernelOpened;
    d.path.prime(d.caches);
  })());

  const enforce = async (ep: CniEndpoint) => {
    await whenReady();
    const req: EndpointRequest = {
      key: ep.key, ip: ep.ip, hostIf: ep.hostIf, podNamespace: ep.podNamespace, podName: ep.podName, containerId: ep.containerId,
    };
    const start = performance.now();
    const enforced = await enforcer.add(req).catch((err: unknown) => {
      d.regenerated?.((performance.now() - start) / 1000, false);
      throw err;
    });
    // Read-your-writes: ADD answers once the endpoint's policy rows and the ipcache are in the kernel.
    await Promise.all([
      enforced.policy.reconciler.waitUntilReconciled(enforced.policy.table),
      enforcer.ipcache.reconciler.waitUntilReconciled(enforcer.ipcache.table),
    ]);
    d.regenerated?.((performance.now() - start) / 1000, true);
    if (ep.podNamespace && ep.podName) {
      // The CiliumEndpoint is reporting, not enforcement: written after ADD answers, retried by refreshes.
      status.setPodUid(enforced.id, ep.podUid);
      setImmediate(() => status.refresh([enforced.id]));
    }
  };

  return {
    started: () => ready !== undefined,
    beforeAddReturns: enforce,
    async afterDelete(ep) {
      await kernelOpened;
      const id = enforcer.endpoints().find((e) => e.request.key === ep.key)?.id;
      if (id !== undefined) status.forget(id);
      enforcer.remove(ep.key);
      if (ep.podNamespace && ep.podName) await deleteCep(request, ep.podNamespace, ep.podName);
    },
    async restore(endpoints) {
      for (const ep of endpoints) {
        try {
          await enforce(ep);
        } catch (err) {
          log.error('could not restore endpoint; its pinned state keeps enforcing', { endpoint: ep.key, err: (err as Error).message });
        }
      }
    },
  };
}
