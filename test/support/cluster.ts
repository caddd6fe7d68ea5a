/**
 * The test suite's local cluster: started on first use with a unique name and its own state folder,
 * shared by every test in the run, and removed by the global teardown even when tests fail.
 * Set CILIATE_TEST_CLUSTER=<name> to reuse an already running cluster instead (it is left running).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import type { NodeRuntime } from '../../cluster/config.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { readJson, type ClusterConfig } from '../../cluster/config.ts';

/** One shared cluster of the run: how it was started and, if this run made it, what to remove. */
interface SharedCluster {
  started?: Promise<RunningCluster>;
  owned?: { name: string; stateRoot: string };
}

const plain: SharedCluster = {};
const withRealNodes: SharedCluster = {};

/** A unique, valid cluster name for this run. */
export function uniqueClusterName(prefix = 't'): string {
  return `${prefix}${process.pid % 100000}${Math.random().toString(36).slice(2, 5)}`.slice(0, 11);
}

/** Starts `slot`'s cluster on first call (or reuses the running cluster named by env `reuseVar`). */
function shared(
  slot: SharedCluster, reuseVar: string, prefix: string, nodes: number, runtime?: NodeRuntime, ciliumConfig?: Record<string, string>,
): Promise<RunningCluster> {
  if (!slot.started) {
    const reuse = process.env[reuseVar];
    if (reuse) {
      const config = readJson<ClusterConfig>(join(clusterPaths(reuse).dir, 'config.json'));
      if (!config) throw new Error(`${reuseVar}=${reuse} is not running`);
      slot.started = Promise.resolve({ name: reuse, kubeconfig: clusterPaths(reuse).kubeconfig, binDir: config.binDir, config });
    } else {
      const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-test-'));
      slot.owned = { name: uniqueClusterName(prefix), stateRoot };
      slot.started = up({ name: slot.owned.name, stateRoot, nodes, runtime, ...(ciliumConfig ? { ciliumConfig } : {}), quiet: !process.env.CILIATE_TEST_VERBOSE });
    }
  }
  return slot.started;
}

/**
 * The shared test cluster (control plane only), started on first call. With CILIATE_TEST_KUBECONFIG
 * set, the apiserver-only suites run against that cluster instead (e.g. kind, with kubectl and helm on
 * PATH and the CRDs applied); its `config` is then a stub without nodes.
 */
export function testCluster(): Promise<RunningCluster> {
  const external = process.env.CILIATE_TEST_KUBECONFIG;
  if (external && !plain.started) {
    const binDir = dirname(execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim());
    plain.started = Promise.resolve({ name: 'external', kubeconfig: external, binDir, config: { name: 'external', binDir } as ClusterConfig });
  }
  return shared(plain, 'CILIATE_TEST_CLUSTER', 't', 0);
}

/** Nodes of the shared node test cluster. */
export const TEST_NODES = 2;

/**
 * A second shared test cluster whose {@link TEST_NODES} nodes are real (kubelet + containerd, pods
 * from images), for the node and end-to-end suites; started on first call and removed by the global
 * teardown. Set CILIATE_TEST_REAL_NODES_CLUSTER=<name> to reuse a running one. Its agents run with
 * {@link REAL_NODES_CILIUM_CONFIG}, as the upstream suites do.
 */
export function testRealNodesCluster(): Promise<RunningCluster> {
  return shared(withRealNodes, 'CILIATE_TEST_REAL_NODES_CLUSTER', 'k', TEST_NODES, 'kubelet', REAL_NODES_CILIUM_CONFIG);
}

/** The settings the upstream peer suites need: NetworkPolicy ipBlocks select pods by address, as Kubernetes' tests expect. */
export const REAL_NODES_CILIUM_CONFIG: Readonly<Record<string, string>> = { 'policy-cidr-match-mode': 'pods' };

/** Runs the real-nodes test cluster's kubectl with its kubeconfig; never throws on a non-zero exit. */
export async function nodesKubectl(args: string[], input?: string): Promise<CommandResult> {
  const c = await testRealNodesCluster();
  return runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
}

/** A client configuration for the shared test cluster. */
export async function testKubeConfig(): Promise<KubeConfig> {
  const c = await testCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  return kc;
}

/** The result of running a command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the cluster's own kubectl (or helm) with its kubeconfig; never throws on a non-zero exit. */
export async function kubectl(args: string[], opts: { input?: string; tool?: 'kubectl' | 'helm' } = {}): Promise<CommandResult> {
  const c = await testCluster();
  return runCommand(join(c.binDir, opts.tool ?? 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, opts.input);
}

/** Runs a command with extra environment, collecting its output. */
export function runCommand(cmd: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    // No stdin unless there is input: a command that exits first must not make the write fail (EPIPE).
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

let crdsInstalled: Promise<void> | undefined;

/** Waits until Ciliate's CRDs (the local cluster installs them at start-up) are Established. */
export function ensureCrds(): Promise<void> {
  crdsInstalled ??= (async () => {
    const dir = join(import.meta.dirname, '..', '..', 'crds');
    for (const args of [['wait', '--for=condition=Established', '--timeout=60s', '-f', dir]]) {
      const r = await kubectl(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    }
  })();
  return crdsInstalled;
}

/** Removes the shared test clusters this run started. */
export async function teardownTestCluster(): Promise<void> {
  for (const slot of [withRealNodes, plain]) {
    if (!slot.owned) continue;
    const { name, stateRoot } = slot.owned;
    slot.owned = undefined;
    await slot.started?.catch(() => undefined);
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  }
}
