/**
 * An agent on a node it cannot set up (a {@link NodeUnusableError}: no BPF filesystem at
 * `bpf-root` when the chart's `bpf.autoMount.enabled` is false and the host has none, a kernel that
 * refuses the datapath, no device with the node's address). Exiting would only make kubelet restart it in a loop, so it stays up and
 * says why where an operator looks:
 *  - one error line in its log naming the setting and the reason;
 *  - /healthz answering 503 with the reason, so the pod stays not Ready (and kubelet's startup
 *    probe restarts it with kubelet's backoff, which re-checks the node);
 *  - a Warning Event `NodeSetupFailed` on the Node, and the Node's condition NetworkUnavailable
 *    True with that reason (agent/node-setup/node-condition.ts), so nothing is scheduled there.
 * It changes nothing else on the node: no CNI socket, no CNI configuration, no BPF program, no pin.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequester } from '../../runtime/kube-request.ts';
import { eventsV1Sink } from '../../runtime/kube-event-sink.ts';
import type { Logger } from '../../runtime/logger.ts';
import { agentKubeConfig } from '../config/credentials.ts';
import type { NodeUnusableError } from '../host-checks.ts';
import { healthEndpoint } from './health.ts';
import { setNetworkUnavailable } from './node-condition.ts';
import { reportSetupFailure } from './report.ts';

/** What {@link holdUnusableNode} needs of the agent's configuration. */
export interface HoldSettings {
  nodeName: string;
  /** `agent-health-port` (0: no health endpoint). */
  healthPort: number;
  /** `k8s-kubeconfig-path`; undefined: in-cluster credentials. */
  kubeconfig: string | undefined;
}

/** How long the Node condition may take before the agent gives up on it. */
const CONDITION_TIMEOUT_MS = 5000;

/** Reports `problem` on the Node (Event and condition); logs what could not be written. */
async function reportOnNode(cfg: HoldSettings, message: string, env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  let kc: KubeConfig;
  try {
    kc = agentKubeConfig(cfg.kubeconfig, env);
  } catch (err) {
    log.warn('the node setup failure is not reported on the Node: no credentials', { error: (err as Error).message });
    return;
  }
  const event = reportSetupFailure(cfg.nodeName, message, env, eventsV1Sink(kc));
  let timer: NodeJS.Timeout | undefined;
  const condition = Promise.race([
    setNetworkUnavailable(kubeRequester(kc), cfg.nodeName, message).then((wrote) => (wrote ? 'set' : 'already set')),
    new Promise<string>((r) => (timer = setTimeout(() => r('timed out'), CONDITION_TIMEOUT_MS))),
  ]).catch((err: unknown) => `not set: ${(err as Error).message}`);
  const [eventWritten, networkUnavailable] = await Promise.all([event, condition]);
  clearTimeout(timer);
  log.info('node setup failure reported on the Node', { event: eventWritten ? 'recorded' : 'not recorded', networkUnavailable });
}

/** Reports `problem` as above and serves the failing health endpoint until `signal` aborts. */
export async function holdUnusableNode(cfg: HoldSettings, problem: NodeUnusableError, env: NodeJS.ProcessEnv, log: Logger, signal: AbortSignal): Promise<void> {
  const message = `node setup failed: ${problem.message}`;
  log.error(`${message}; the agent configures nothing on this node`, { setting: problem.setting });
  const health = healthEndpoint(cfg.healthPort, { caches: [], failure: problem.message }, log);
  await Promise.all([health?.start(signal), reportOnNode(cfg, message, env, log)]);
  if (!health && !signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
}
