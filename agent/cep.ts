/**
 * The CiliumEndpoint of a local endpoint, shaped as upstream's status (id, identity, networking,
 * state, policy enforcement, external identifiers, named ports), and written with server-side
 * apply so one request creates or updates it. The CiliumEndpoint is owned by its Pod, so the
 * garbage collector removes it with the pod even when this agent is gone.
 */
import type { MapState } from '../policy/mapstate.ts';
import { serverSideApply, type KubeRequester } from '../runtime/kube-request.ts';
import { KubeApiError } from '../runtime/api-errors.ts';
import type { EnforcedEndpoint } from './endpoint-enforcer.ts';
import { WORKLOAD_ANNOTATION, workloadAnnotation, type FlowWorkload } from './flow-enrichment.ts';

/** Whether each direction of an endpoint is enforced, read from its map state. */
export function enforcementOf(state: MapState | undefined): { ingress: boolean; egress: boolean } {
  const disabled = (dir: 'ingress' | 'egress') => (state?.rows() ?? []).some((r) =>
    r.key.direction === dir && r.key.identity === 0 && r.key.protocol === 0 &&
    r.entry.derivedFrom.some((o) => o.kind === 'Implicit' && o.name === `${dir}-enforcement-disabled`));
  return { ingress: !disabled('ingress'), egress: !disabled('egress') };
}

/** Facts about the pod the CiliumEndpoint is for. */
export interface CepContext {
  podUid: string;
  nodeIP: string;
  state: MapState | undefined;
  /** Rows of the endpoint's policy map the kernel refused (or that wait for room). */
  errors?: ReadonlyArray<{ origin: string; message: string }>;
  /** The workload owning the pod, annotated for other nodes' flows. */
  workload?: FlowWorkload | undefined;
}

/**
 * State, health and log of an endpoint whose policy rows are in error: `not-ready`, policy health
 * `Failure`, and a log line naming how many rows failed, the first failure and the rules behind it.
 */
function errorStatus(errors: CepContext['errors']): Record<string, unknown> {
  if (!errors?.length) return { state: 'ready' };
  const origins = [...new Set(errors.map((e) => e.origin))].slice(0, 5).join(', ');
  return {
    state: 'not-ready',
    health: { bpf: 'OK', policy: 'Failure', connected: true, overallHealth: 'Failure' },
    log: [{ code: 'Failure', state: 'not-ready', message: `${errors.length} policy map rows not written (${origins}): ${errors[0]!.message}`.slice(0, 1000) }],
  };
}

/** The CiliumEndpoint object for an enforced endpoint. */
export function cepObject(ep: EnforcedEndpoint, ctx: CepContext): Record<string, unknown> {
  const enforced = enforcementOf(ctx.state);
  const direction = (on: boolean) => ({ enforcing: on, state: on ? 'enforcing' : 'non-enforcing' });
  const { request: req } = ep;
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumEndpoint',
    metadata: {
      name: req.podName,
      namespace: req.podNamespace,
      ...(ctx.workload ? { annotations: { [WORKLOAD_ANNOTATION]: workloadAnnotation(ctx.workload) } } : {}),
      ...(ctx.podUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: req.podName, uid: ctx.podUid, blockOwnerDeletion: true }] } : {}),
    },
    status: {
      id: ep.id,
      identity: { id: ep.identity, labels: ep.labels.toStrings() },
      networking: { addressing: [{ ipv4: req.ip }], node: ctx.nodeIP },
      ...errorStatus(ctx.errors),
      policy: { ingress: direction(enforced.ingress), egress: direction(enforced.egress) },
      ...(ep.namedPorts.length ? { 'named-ports': ep.namedPorts.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })) } : {}),
      'external-identifiers': {
        'container-id': req.containerId, 'k8s-namespace': req.podNamespace, 'k8s-pod-name': req.podName, 'pod-name': `${req.podNamespace}/${req.podName}`,
      },
    },
  };
}

function cepPath(namespace: string, name: string): string {
  return `/apis/cilium.io/v2/namespaces/${encodeURIComponent(namespace)}/ciliumendpoints/${encodeURIComponent(name)}`;
}

/** Writes (server-side apply) a CiliumEndpoint. */
export async function writeCep(request: KubeRequester, obj: Record<string, unknown>): Promise<void> {
  const meta = obj.metadata as { name: string; namespace: string };
  await serverSideApply(request, cepPath(meta.namespace, meta.name), obj, 'ciliate-agent');
}

/** Deletes a CiliumEndpoint; a missing one is not an error. */
export async function deleteCep(request: KubeRequester, namespace: string, name: string): Promise<void> {
  try {
    await request({ method: 'DELETE', path: cepPath(namespace, name) });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.code === 404)) throw err;
  }
}
