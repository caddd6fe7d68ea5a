/**
 * A failed node setup told where an operator looks: besides the init container's log line, a
 * Warning Event `NodeSetupFailed` on the Node (events.k8s.io/v1), written with the pod's service
 * account. Best effort and bounded in time: without credentials or an answer it gives up, so the
 * init container still exits with its error and kubelet retries it.
 */
import { agentKubeConfig } from '../config/credentials.ts';
import { EventRecorder, type EventSink } from '../../runtime/events.ts';
import { eventsV1Sink } from '../../runtime/kube-event-sink.ts';

/** How long the Event may take before the setup exits anyway. */
const REPORT_TIMEOUT_MS = 5000;

/** Records a Warning Event on Node `nodeName` saying why its setup failed; resolves whether it was written. */
export async function reportSetupFailure(nodeName: string, message: string, env: Readonly<Record<string, string | undefined>>, sink?: EventSink): Promise<boolean> {
  let target: EventSink;
  try {
    target = sink ?? eventsV1Sink(agentKubeConfig(undefined, env));
  } catch {
    return false;
  }
  let written = false;
  const counting: EventSink = {
    create: async (e) => {
      const created = await target.create(e);
      written = true;
      return created;
    },
    patch: (ns, name, body) => target.patch(ns, name, body),
  };
  const recorder = new EventRecorder({ sink: counting, controller: 'ciliate.io/node-setup', instance: `node-setup-${nodeName}` });
  recorder.event({ apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } }, 'Warning', 'NodeSetupFailed', 'NodeSetup', message);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, REPORT_TIMEOUT_MS)));
  await Promise.race([recorder.flush(), timeout]);
  clearTimeout(timer);
  return written;
}
