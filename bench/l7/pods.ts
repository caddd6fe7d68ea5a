/**
 * What both bench/l7 benches share: a running cluster's kubectl, a namespace of their own holding
 * one client pod (node 0) and one server pod (node 1), programs entered into a pod's network
 * namespace, and medians.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { clusterConfig, podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import type { ClusterConfig } from '../../cluster/config.ts';
import { runCommand, type CommandResult } from '../../test/support/cluster.ts';

/** The bench's view of a running cluster. */
export interface BenchCluster {
  readonly config: ClusterConfig;
  kubectl(args: string[], input?: string): Promise<CommandResult>;
}

/** The running cluster `name` (its config and kubectl). */
export function benchCluster(name: string): BenchCluster {
  const config = clusterConfig(name);
  return { config, kubectl: (a, input) => runCommand(join(config.binDir, 'kubectl'), a, { KUBECONFIG: clusterPaths(name).kubeconfig }, input) };
}

/**
 * Runs `body` with a fresh namespace (prefix `prefix`) holding pod `client` (label app=client) on the
 * first node and pod `server` (app=server) on the second, both Ready; the namespace is deleted after.
 */
export async function withPodPair(
  c: BenchCluster, prefix: string, specs: { client: object; server: object }, extra: object[],
  body: (pods: { ns: string; client: PodEndpoint; server: PodEndpoint }) => Promise<void>,
): Promise<void> {
  const [n0, n1] = c.config.nodes!;
  const ns = `${prefix}-${Math.random().toString(36).slice(2, 6)}`;
  await c.kubectl(['create', 'namespace', ns]);
  try {
    for (const o of extra) await c.kubectl(['apply', '-n', ns, '-f', '-'], JSON.stringify(o));
    for (const [name, node] of [['client', n0!.name], ['server', n1!.name]] as const) {
      await c.kubectl(['apply', '-f', '-'], JSON.stringify({
        apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name } }, spec: { nodeName: node, ...specs[name] },
      }));
    }
    const ready = await c.kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod/client', 'pod/server', '--timeout=180s']);
    if (ready.code !== 0) throw new Error(`pods not Ready: ${ready.stderr}`);
    const ep = (n: string) => podEndpoints(c.config).find((p) => p.namespace === ns && p.name === n)!;
    await body({ ns, client: ep('client'), server: ep('server') });
  } finally {
    await c.kubectl(['delete', 'namespace', ns, '--wait=false']);
  }
}

/** Runs `argv` in the pod's network namespace (a helm-installed node keeps it in its own mount namespace); its stdout. */
export function inPodNetns(pod: { netns: string; node: string }, argv: string[]): Promise<string> {
  const nodeMounts = `/run/ciliate/mnt/${pod.node}`;
  const enter = !existsSync(pod.netns) && existsSync(nodeMounts) ? ['nsenter', `--mount=${nodeMounts}`, '--'] : [];
  const all = [...enter, 'nsenter', `--net=${pod.netns}`, ...argv];
  return new Promise((resolve, reject) => {
    const p = spawn(all[0]!, all.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv[0]} exited ${code}`))));
  });
}

/** The median of `xs`. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
