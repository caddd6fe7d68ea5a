/**
 * The node runner: stands in for kubelet and a container runtime on a simulated node. It registers
 * the Node, keeps its Lease and Ready condition fresh, and for every Pod bound to the node creates
 * a network namespace, networks it through the CNI plugin, runs the containers' commands as host
 * processes in it, reports the pod's status, restarts containers per restartPolicy, and on
 * deletion stops the processes, calls CNI DEL, removes the namespace and finalizes the deletion.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { NodeConfig } from '../cluster/node-config.ts';
import { netnsPath } from '../cluster/nodes.ts';
import { cgroupProcs } from '../cluster/cgroup.ts';
import { statusCodeOf } from '../runtime/api-errors.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { Controller } from '../runtime/controller.ts';
import { elapsedMs } from '../runtime/elapsed.ts';
import { kubeInformer } from '../runtime/kube-list-watch.ts';
import { kubeRequester, type KubeRequester } from '../runtime/kube-request.ts';
import type { Logger } from '../runtime/logger.ts';
import { Manager } from '../runtime/manager.ts';
import { keyOf } from '../runtime/reconcile.ts';
import { CniClient } from './cni-invoke.ts';
import { serviceEnvFor } from './service-env.ts';
import { containerEnv, restartDelayMs, shouldRestart, startContainer, stopContainer, type ContainerRun } from './containers.ts';
import { registerNode, renewLease, reportNodeStatus } from './node-registration.ts';
import { podPhase, podStatus, type PodView } from './pod-status.ts';
import { createSandbox, destroySandbox, leftoverSandboxes, podDir, releaseNetwork, type SandboxRecord } from './sandbox.ts';

const PODS = { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true } as const;
const LEASE_EVERY_MS = 10_000;
const STATUS_EVERY_MS = 20_000;
/** Longest wait for a container to stop after SIGTERM, whatever the pod's grace period. */
const MAX_STOP_GRACE_MS = 10_000;

/** A pod the runner is running. */
interface LocalPod extends PodView {
  key: string;
  uid: string;
  dir: string;
  sandbox: SandboxRecord;
  /** The Service variables as of the pod's start. */
  serviceEnv: Record<string, string>;
  /** Fingerprint of the last status written. */
  written?: string;
}

/** Runs the node `node` until `signal` aborts; on the way out stops every pod it runs (the API objects stay). */
export async function runNode(node: NodeConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(node.kubeconfig);
  const request = kubeRequester(kc);
  const cniPath = readFileSync(join(node.dir, 'cni-path'), 'utf8').trim().split(':');
  const cni = new CniClient(node.cniConfDir, cniPath);
  const runner = new PodRunner(node, cni, request, log);
  await runner.cleanLeftovers();

  await registerNode(request, node);
  const heartbeat = startHeartbeat(node, cni, request, log, signal);

  const pods = kubeInformer<V1Pod>(kc, PODS, { fieldSelector: `spec.nodeName=${node.name}` }, { log });
  const controller = new Controller({
    name: 'pods', log, workers: 4, needLeaderElection: false, resyncIntervalMs: 30_000,
    reconciler: cachedReconciler<V1Pod>(pods, {
      apply: (_ctx, pod) => runner.apply(pod),
      cleanup: (_ctx, req) => runner.forget(keyOf(req)),
    }),
  }).for(pods);
  runner.requeue = (key) => controller.queue.add(key);
  try {
    await new Manager({ log }).addCache(pods).add(controller).start(signal);
  } finally {
    await heartbeat;
    await runner.stopAll();
  }
}

/** Lease renewals every 10 s and node status every 20 s (sooner when network readiness changes). */
async function startHeartbeat(node: NodeConfig, cni: CniClient, request: KubeRequester, log: Logger, signal: AbortSignal): Promise<void> {
  let lastStatus = 0;
  let lastError: string | undefined | null = null;
  let since = new Date().toISOString();
  while (!signal.aborted) {
    const networkError = await cni.status().then(() => undefined, (err: unknown) => (err as Error).message);
    try {
      if ((networkError === undefined) !== (lastError === undefined)) since = new Date().toISOString();
      if (networkError !== lastError || Date.now() - lastStatus >= STATUS_EVERY_MS) {
        await reportNodeStatus(request, node, networkError, since).catch(async (err: unknown) => {
          if (statusCodeOf(err) !== 404) throw err;
          log.warn('the Node object is gone; registering it again');
          await registerNode(request, node);
          await reportNodeStatus(request, node, networkError, since);
        });
        if (networkError !== lastError) log.info('node status', { ready: !networkError, networkError });
        lastStatus = Date.now();
        lastError = networkError;
      }
      await renewLease(request, node);
    } catch (err) {
      log.warn('heartbeat failed', { err });
    }
    const wait = lastError === undefined ? LEASE_EVERY_MS : 1000;
    await new Promise<void>((r) => {
      const t = setTimeout(r, wait);
      signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }
}

/** The pods of one node and their reconcile logic. */
class PodRunner {
  private readonly pods = new Map<string, LocalPod>();
  /** Enqueues a pod key (set once the controller exists). */
  requeue: (key: string) => void = () => undefined;

  constructor(private readonly node: NodeConfig, private readonly cni: CniClient, private readonly request: KubeRequester, private readonly log: Logger) {}

  /** Tears down sandboxes an earlier runner process left behind. */
  async cleanLeftovers(): Promise<void> {
    for (const { dir, record } of leftoverSandboxes(this.node.dir)) {
      this.log.info('removing a leftover pod sandbox', { pod: record.podKey, netns: record.netns });
      await destroySandbox(this.cni, record, dir).catch((err: unknown) => this.log.warn('leftover sandbox cleanup failed', { err }));
    }
  }

  /** Converges one pod: start it, update its status, restart containers, or finish its deletion. */
  async apply(pod: V1Pod): Promise<void> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    let local = this.pods.get(key);
    if (local && local.uid !== pod.metadata?.uid) {
      await this.teardown(local, 0);
      local = undefined;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (local) await this.teardown(local, (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000);
      await this.finalizeDeletion(pod);
      return;
    }
    if (!local) {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      try {
        local = await this.start(pod);
      } catch (err) {
        await this.reportStartFailure(pod, err).catch(() => undefined);
        throw err;
      }
    }
    local.pod = pod;
    this.restartDue(local);
    await this.writeStatus(local);
    const phase = podPhase(local);
    if ((phase === 'Succeeded' || phase === 'Failed') && local.sandbox.attachment) {
      await releaseNetwork(this.cni, local.sandbox, local.dir);
      this.log.info('pod finished; network released', { pod: key, phase });
    }
  }

  /** The pod is gone from the API (e.g. force-deleted): stop whatever still runs for it. */
  async forget(key: string): Promise<void> {
    const local = this.pods.get(key);
    if (local) await this.teardown(local, MAX_STOP_GRACE_MS);
  }

  /** Stops every pod (runner shutdown); the Pod objects are left as they are. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.pods.values()].map((local) =>
      this.teardown(local, 2000).catch((err: unknown) => this.log.error('teardown failed', { pod: local.key, err }))));
  }

  private async start(pod: V1Pod): Promise<LocalPod> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const dir = podDir(this.node.dir, pod);
    const t0 = performance.now();
    // The Service variables are read while the sandbox is made: neither waits for the other.
    const [serviceEnv, sandbox] = await Promise.all([
      serviceEnvFor(this.request, pod.metadata?.namespace ?? 'default'),
      createSandbox(this.cni, this.node.netns, pod, dir),
    ]);
    const podIP = pod.spec?.hostNetwork ? this.node.address : (sandbox.cniResult?.ips?.[0]?.address.split('/')[0] ?? '');
    const local: LocalPod = {
      key, uid: pod.metadata!.uid!, dir, sandbox, pod, serviceEnv, podIP, hostIP: this.node.address,
      startTime: new Date().toISOString(), containers: [],
    };
    this.pods.set(key, local);
    this.log.info('pod sandbox ready', { pod: key, podIP, netns: sandbox.netns ?? '(host network)', ms: { ...sandbox.ms, total: elapsedMs(t0) } });
    const inits = pod.spec?.initContainers ?? [];
    if (inits.length > 0) {
      local.initializing = true;
      await this.writeStatus(local);
      for (const spec of inits) {
        const code = await this.runToCompletion(local, { name: spec.name, spec, restartCount: 0 });
        if (code !== 0) {
          local.failed = { reason: 'InitContainerFailed', message: `init container ${spec.name} exited with ${code}` };
          local.initializing = false;
          return local;
        }
      }
      local.initializing = false;
    }
    for (const spec of pod.spec?.containers ?? []) {
      const run: ContainerRun = { name: spec.name, spec, restartCount: 0 };
      local.containers.push(run);
      this.launch(local, run);
    }
    return local;
  }

  private launch(local: LocalPod, run: ContainerRun): void {
    startContainer(run, {
      netnsPath: local.sandbox.netns ? netnsPath(local.sandbox.netns) : undefined,
      cgroupProcs: cgroupProcs(this.node.cgroup),
      env: containerEnv(local.pod, run.spec, local.podIP, local.hostIP, local.serviceEnv),
      dir: local.dir,
      onExit: () => this.exited(local, run),
    });
  }

  private runToCompletion(local: LocalPod, run: ContainerRun): Promise<number | null> {
    return new Promise((resolve) => {
      startContainer(run, {
        netnsPath: local.sandbox.netns ? netnsPath(local.sandbox.netns) : undefined,
        cgroupProcs: cgroupProcs(this.node.cgroup),
        env: containerEnv(local.pod, run.spec, local.podIP, local.hostIP, local.serviceEnv),
        dir: local.dir,
        onExit: () => resolve(run.exit?.code ?? null),
      });
      if (run.waitingReason) resolve(null);
    });
  }

  private exited(local: LocalPod, run: ContainerRun): void {
    this.log.info('container exited', { pod: local.key, container: run.name, code: run.exit?.code, signal: run.exit?.signal });
    if (this.pods.get(local.key) === local && shouldRestart(local.pod.spec?.restartPolicy, run.exit?.code ?? null)) {
      run.restartAt = Date.now() + restartDelayMs(run.restartCount);
      run.restartTimer = setTimeout(() => this.requeue(local.key), run.restartAt - Date.now());
    }
    this.requeue(local.key);
  }

  /** Restarts containers whose backoff has passed. */
  private restartDue(local: LocalPod): void {
    for (const run of local.containers) {
      if (run.restartAt === undefined || run.restartAt > Date.now()) continue;
      run.restartAt = undefined;
      run.lastExit = run.exit ? { ...run.exit, startedAt: run.startedAt ?? '' } : run.lastExit;
      run.restartCount++;
      this.launch(local, run);
    }
  }

  private async writeStatus(local: LocalPod): Promise<void> {
    const status = podStatus(local);
    const fingerprint = JSON.stringify(status, (k, v: unknown) => (k === 'lastTransitionTime' || k === 'lastProbeTime' ? undefined : v));
    if (fingerprint === local.written) return;
    const path = `/api/v1/namespaces/${local.pod.metadata?.namespace}/pods/${local.pod.metadata?.name}/status`;
    await this.request({ method: 'PATCH', path, body: { metadata: { uid: local.uid }, status }, contentType: 'application/merge-patch+json' });
    local.written = fingerprint;
  }

  private async teardown(local: LocalPod, graceMs: number): Promise<void> {
    const grace = Math.min(graceMs, MAX_STOP_GRACE_MS);
    await Promise.all(local.containers.map((c) => stopContainer(c, grace)));
    await destroySandbox(this.cni, local.sandbox, local.dir);
    if (this.pods.get(local.key) === local) this.pods.delete(local.key);
    this.log.info('pod torn down', { pod: local.key });
  }

  /** Shows why the pod cannot start (sandbox or CNI failure) in its status; the start is retried with backoff. */
  private async reportStartFailure(pod: V1Pod, err: unknown): Promise<void> {
    const path = `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}/status`;
    const condition = {
      type: 'PodReadyToStartContainers', status: 'False', reason: 'SandboxCreationFailed',
      message: (err as Error).message.slice(0, 1000), lastTransitionTime: new Date().toISOString(),
    };
    const status = { phase: 'Pending', hostIP: this.node.address, hostIPs: [{ ip: this.node.address }], conditions: [condition, { type: 'PodScheduled', status: 'True' }] };
    await this.request({ method: 'PATCH', path, body: { metadata: { uid: pod.metadata?.uid }, status }, contentType: 'application/merge-patch+json' });
  }

  /** Deletes the pod for good (grace period 0) once its processes and network are gone. */
  private async finalizeDeletion(pod: V1Pod): Promise<void> {
    const path = `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`;
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } };
    try {
      await this.request({ method: 'DELETE', path, body });
    } catch (err) {
      const code = statusCodeOf(err);
      if (code !== 404 && code !== 409) throw err;
    }
  }
}
