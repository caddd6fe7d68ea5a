/**
 * CiliumEndpoint status of the node's endpoints (identity, enforcement per direction, named ports,
 * rows not in the kernel), written in the background by a {@link CepReporter}: after a policy change,
 * an ADD, a relabel, and whenever an endpoint's policy rows start or stop failing.
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { PolicyEngine } from '../policy/engine.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import { cepObject, writeCep } from './cep.ts';
import { CepReporter } from './cep-reporter.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import { workloadOf } from './flow-enrichment.ts';

/** What endpoint status needs. */
export interface EndpointStatusDeps {
  kc: KubeConfig;
  nodeIP: string;
  engine: PolicyEngine;
  enforcer: EndpointEnforcer;
  /** This node's pods: the workload each CiliumEndpoint names. */
  pods: CacheReader<V1Pod>;
  log: Logger;
}

/** Schedules CiliumEndpoint writes. */
export interface EndpointStatus {
  /** Writes these endpoints' status when it differs from what was last written. */
  refresh(ids: Iterable<number>): void;
  /** Records the pod UID of an endpoint (its CiliumEndpoint's owner). */
  setPodUid(id: number, uid: string): void;
  /** Forgets an endpoint that is gone. */
  forget(id: number): void;
}

/** Builds the status writer and follows the enforcer's endpoints whose rows start or stop failing. */
export function endpointStatus(d: EndpointStatusDeps): EndpointStatus {
  const request = kubeRequester(d.kc);
  const podUids = new Map<number, string>();
  const reporter = new CepReporter((id) => {
    const ep = d.enforcer.endpoint(id);
    if (!ep || !ep.request.podName) return undefined;
    const pod = d.pods.get(`${ep.request.podNamespace}/${ep.request.podName}`);
    return cepObject(ep, {
      podUid: podUids.get(id) ?? '', nodeIP: d.nodeIP, state: d.engine.mapState(id), errors: d.enforcer.policyErrors(id),
      workload: pod && workloadOf(pod),
    });
  }, (obj) => writeCep(request, obj as Record<string, unknown>), d.log);
  d.enforcer.onEndpointErrors((id) => reporter.schedule([id]));
  return {
    refresh: (ids) => reporter.schedule(ids),
    setPodUid: (id, uid) => void podUids.set(id, uid),
    forget(id) {
      reporter.forget(id);
      podUids.delete(id);
    },
  };
}
