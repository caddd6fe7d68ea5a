/** `ciliate exec` and `ciliate observe`: a pod's shell access and the cluster's flows. */
import { spawn } from 'node:child_process';
import { clusterConfig, podEndpoints, readFlows, type PodEndpoint } from '../cluster/pods.ts';
import type { FlowRecord } from '../agent/flow-log.ts';
import { DEFAULT_CLUSTER } from '../cluster/paths.ts';
import { cgroupProcs, joinCgroupArgv } from '../cluster/cgroup.ts';
import { nodeMountNs } from '../cluster/kubelet-node/mount-ns.ts';
import { flag, type Args } from './args.ts';

/** Usage of the two commands. */
export const POD_USAGE = `  exec [--name C] NAMESPACE/POD -- CMD...   run CMD in the pod's network namespace
  observe [--name C] [--verdict DROPPED|FORWARDED] [--pod NS/POD] [--last N]
                                            flows from every node's datapath, with the rule that decided each`;

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

const TCP_FLAGS: [number, string][] = [[0x02, 'SYN'], [0x10, 'ACK'], [0x01, 'FIN'], [0x04, 'RST'], [0x08, 'PSH']];

/** One flow as a line, Hubble-style, with pod names for known addresses. */
export function formatFlow(f: FlowRecord, byIp: Map<string, PodEndpoint>): string {
  const who = (ip: string, port: number, id: number) => {
    const p = byIp.get(ip);
    return `${p ? `${p.namespace}/${p.name}` : ip}${port ? `:${port}` : ''} (ID:${id})`;
  };
  const t = new Date(f.time);
  const stamp = `${t.toDateString().slice(4, 10)} ${t.toISOString().slice(11, 23)}`;
  const flags = (f.protocol === 6 ? ` (TCP Flags: ${TCP_FLAGS.filter(([b]) => f.tcpFlags & b).map(([, n]) => n).join(', ')})` : '') +
    (f.serviceLoopback ? ' (service loopback)' : '');
  const why = f.verdict === 'DROPPED'
    ? `${f.dropReasonDesc} DROPPED${flags}${f.policy.length ? ` by ${f.policy.join(', ')}` : ': no rule allows it'}`
    : `${f.direction === 'INGRESS' ? 'to-endpoint' : 'from-endpoint'} FORWARDED${flags}${f.policy.length ? ` by ${f.policy.join(', ')}` : ''}`;
  return `${stamp} [${f.node}]: ${who(f.srcIp, f.srcPort, f.srcIdentity)} -> ${who(f.dstIp, f.dstPort, f.dstIdentity)} ${why}`;
}

/** Prints the cluster's most recent flows. */
export function observeCommand(args: Args): number {
  const config = clusterConfig(flag(args, 'name') ?? DEFAULT_CLUSTER);
  const pods = podEndpoints(config);
  const byIp = new Map(pods.map((p) => [p.ip, p]));
  const verdict = flag(args, 'verdict');
  const podRef = flag(args, 'pod');
  const pod = podRef ? findPod(pods, podRef) : undefined;
  const last = Number(flag(args, 'last') ?? 20);
  const flows = readFlows(config)
    .filter((f) => !verdict || f.verdict === verdict.toUpperCase())
    .filter((f) => !pod || f.srcIp === pod.ip || f.dstIp === pod.ip);
  for (const f of flows.slice(-last)) console.log(formatFlow(f, byIp));
  return 0;
}
