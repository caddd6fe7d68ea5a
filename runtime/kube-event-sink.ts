// EventSink over the API server's events.k8s.io/v1 JSON, sent through kubeRequester: series updates
// are merge patches; times go out in MicroTime's wire form (runtime/micro-time.ts serializes itself).
import { PatchStrategy, type EventsV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { EventSink } from './events.ts';
import { kubeRequester } from './kube-request.ts';

/** An {@link EventSink} writing events.k8s.io/v1 Events; series updates are sent as merge patches. */
export function eventsV1Sink(kc: KubeConfig): EventSink {
  const request = kubeRequester(kc);
  const collection = (namespace: string) => `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  return {
    create: async (event) => (await request({ method: 'POST', path: collection(event.metadata?.namespace ?? 'default'), body: event })) as EventsV1Event,
    async patch(namespace, name, body) {
      await request({ method: 'PATCH', path: `${collection(namespace)}/${encodeURIComponent(name)}`, body, contentType: PatchStrategy.MergePatch });
    },
  };
}
