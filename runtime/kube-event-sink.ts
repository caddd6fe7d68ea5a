// EventSink over client-node's EventsV1Api; merge patches set their content type via setHeaderOptions.
import { EventsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { EventSink } from './events.ts';

/** An {@link EventSink} over EventsV1Api; series updates are sent as merge patches. */
export function eventsV1Sink(kc: KubeConfig): EventSink {
  const api = kc.makeApiClient(EventsV1Api);
  return {
    create: (event) => api.createNamespacedEvent({ namespace: event.metadata?.namespace ?? 'default', body: event }),
    async patch(namespace, name, body) {
      await api.patchNamespacedEvent({ namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    },
  };
}
