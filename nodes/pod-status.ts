/** Computing a pod's status from its locally running containers, as the runner reports it. */
import type { V1Pod } from '@kubernetes/client-node';
import type { ContainerRun } from './containers.ts';

/** What the runner knows about a pod it runs. */
export interface PodView {
  pod: V1Pod;
  podIP: string;
  hostIP: string;
  startTime: string;
  containers: ContainerRun[];
  /** Set when the sandbox or init containers failed for good. */
  failed?: { reason: string; message: string };
  /** Init containers still running (the main containers have not started yet). */
  initializing?: boolean;
}

/** The pod phase from container states and the restart policy. */
export function podPhase(v: PodView): string {
  if (v.failed) return 'Failed';
  if (v.initializing) return 'Pending';
  const policy = v.pod.spec?.restartPolicy ?? 'Always';
  const cs = v.containers;
  if (cs.some((c) => c.proc && !c.exit)) return 'Running';
  if (cs.some((c) => c.restartAt !== undefined)) return 'Running';
  if (cs.length > 0 && cs.every((c) => c.exit)) {
    if (cs.every((c) => c.exit!.code === 0)) return policy === 'Always' ? 'Running' : 'Succeeded';
    return policy === 'Always' || policy === 'OnFailure' ? 'Running' : 'Failed';
  }
  return 'Pending';
}

/** The full `status` the runner writes for a pod. */
export function podStatus(v: PodView): Record<string, unknown> {
  const now = new Date().toISOString();
  const phase = podPhase(v);
  const running = (c: ContainerRun) => Boolean(c.proc && !c.exit);
  const allReady = v.containers.length > 0 && v.containers.every(running) && phase === 'Running';
  const cond = (type: string, ok: boolean, reason?: string) => ({
    type, status: ok ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now, ...(reason && !ok ? { reason } : {}),
  });
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  return {
    phase,
    ...(v.failed ? { reason: v.failed.reason, message: v.failed.message } : {}),
    hostIP: v.hostIP, hostIPs: [{ ip: v.hostIP }],
    ...(v.podIP ? { podIP: v.podIP, podIPs: [{ ip: v.podIP }] } : {}),
    startTime: v.startTime,
    conditions: [
      cond('PodReadyToStartContainers', !terminal && Boolean(v.podIP || v.pod.spec?.hostNetwork)),
      cond('Initialized', !v.initializing, 'ContainersNotInitialized'),
      cond('ContainersReady', allReady, 'ContainersNotReady'),
      cond('Ready', allReady, 'ContainersNotReady'),
      cond('PodScheduled', true),
    ],
    containerStatuses: v.containers.map((c) => ({
      name: c.name,
      image: c.spec.image ?? '',
      imageID: '',
      ...(c.pid ? { containerID: `ciliate://${c.pid}` } : {}),
      ready: running(c),
      started: running(c),
      restartCount: c.restartCount,
      state: containerState(c),
      lastState: c.lastExit
        ? { terminated: { exitCode: c.lastExit.code ?? 1, reason: c.lastExit.code === 0 ? 'Completed' : 'Error', startedAt: c.lastExit.startedAt, finishedAt: c.lastExit.finishedAt } }
        : {},
    })),
  };
}

function containerState(c: ContainerRun): Record<string, unknown> {
  if (c.waitingReason) return { waiting: { reason: c.waitingReason, message: 'the node runner runs only commands given in the pod spec; images are ignored' } };
  if (c.restartAt !== undefined) return { waiting: { reason: 'CrashLoopBackOff', message: `restarting ${c.name} after it exited` } };
  if (c.exit) {
    return { terminated: {
      exitCode: c.exit.code ?? 1, ...(c.exit.signal ? { signal: signalNumber(c.exit.signal) } : {}),
      reason: c.exit.code === 0 ? 'Completed' : 'Error', startedAt: c.startedAt, finishedAt: c.exit.finishedAt,
    } };
  }
  if (c.proc) return { running: { startedAt: c.startedAt } };
  return { waiting: { reason: 'ContainerCreating' } };
}

function signalNumber(signal: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}
