// LeaseClient over client-node's CoordinationV1Api.
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { statusCodeOf } from './api-errors.ts';
import type { LeaseClient } from './leader-election.ts';

/** A {@link LeaseClient} backed by CoordinationV1Api. */
export function leaseClient(kc: KubeConfig): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    async get(namespace, name) {
      try {
        return await api.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (statusCodeOf(err) === 404) return undefined;
        throw err;
      }
    },
    create: (lease) => api.createNamespacedLease({ namespace: lease.metadata?.namespace ?? '', body: lease }),
    replace: (lease) =>
      api.replaceNamespacedLease({ namespace: lease.metadata?.namespace ?? '', name: lease.metadata?.name ?? '', body: lease }),
  };
}
