/** `ciliate exec`: a pod's shell access. */
import { spawn } from 'node:child_process';
import { clusterConfig, podEndpoints, type PodEndpoint } from '../cluster/pods.ts';
import { DEFAULT_CLUSTER } from '../cluster/paths.ts';
import { cgroupProcs, joinCgroupArgv } from '../cluster/cgroup.ts';
import { nodeMountNs } from '../cluster/kubelet-node/mount-ns.ts';
import { flag, type Args } from './args.ts';

/** Usage of the command. */
export const POD_USAGE = `  exec [--name C] NAMESPACE/POD -- CMD...   run CMD in the pod's network namespace`;

function findPod(pods: PodEndpoint[], ref: string): PodEndpoint {
  const [namespace, name] = ref.includes('/') ? ref.split('/', 2) : ['default', ref];
  const pod = pods.find((p) => p.namespace === namespace && p.name === name);
  if (!pod) throw new Error(`no pod ${namespace}/${name} with a network endpoint in this cluster`);
  return pod;
}

/** Runs a command inside a pod's network namespace; resolves with its exit code. */
export async function execCommand(args: Args, command: string[]): Promise<number> {
  const ref = args.words[1];
  if (!ref || command.length === 0) throw new Error('usage: ciliate exec NAMESPACE/POD -- CMD...');
  const config = clusterConfig(flag(args, 'name') ?? DEFAULT_CLUSTER);
  const pod = findPod(podEndpoints(config), ref);
  // Like the pod's own containers: in its node's cgroup (socket-level service translation), in its
  // network namespace (whose path is in the node's own mount namespace when the chart runs Ciliate).
  const inNodeMounts = config.install === 'helm' ? ['nsenter', `--mount=${nodeMountNs(pod.node)}`, '--'] : [];
  const [cmd, ...rest] = [...joinCgroupArgv(cgroupProcs(config.nodes?.find((n) => n.name === pod.node)?.cgroup)), ...inNodeMounts, 'nsenter', `--net=${pod.netns}`, ...command];
  const child = spawn(cmd!, rest, { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
