/**
 * `ciliate cluster up | down | status | kubeconfig`: a local Kubernetes control plane built from
 * upstream sources, run as plain processes, with no container engine.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KUBERNETES_SERVICE_IP, OPERATOR_POD_CIDR, SERVICE_CIDR, writeJsonAtomic, readJson, type ClusterConfig, type NodeRuntime } from './config.ts';
import { createNodeNetwork, deleteNodeNetwork, bridgeName } from './network.ts';
import { checkClusterName, clusterPaths, DEFAULT_CLUSTER } from './paths.ts';
import { removeClusterPins } from './node-config.ts';
import { createPki, pkiFiles, writeKubeconfig } from './pki.ts';
import { ensureNodeImages } from './images/index.ts';
import { installClusterDns } from './addons/install.ts';
import { claimHostSysctls, releaseHostSysctls } from './kubelet-node/host-sysctls.ts';
import { createNodeCgroups } from './kubelet-node/node-cgroups.ts';
import { writeRuntimeFiles } from './kubelet-node/node-files.ts';
import { teardownNodeRuntime } from './kubelet-node/node-teardown.ts';
import { preferredPort, slotPorts } from './ports.ts';
import { progress } from './progress.ts';
import { alive, readState, type ClusterState } from './state.ts';
import { ensureToolchain } from './toolchain.ts';
import { createNodeNetns, deleteClusterNodes, nodeConfigs, writeNodeFiles } from './nodes.ts';
import { waitNodesReady } from './node-wait.ts';
import { createNodeMountNs } from './kubelet-node/mount-ns.ts';
import { ciliateImageArchives, installCiliate, type InstallMode } from './helm-install.ts';

const SUPERVISOR = join(dirname(fileURLToPath(import.meta.url)), 'supervisor-main.ts');
const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const UP_TIMEOUT_MS = 180_000;

/** Options of `up`. */
export interface UpOptions {
  name?: string;
  /** Root of the clusters' state (default CILIATE_STATE_DIR or /var/lib/ciliate). */
  stateRoot?: string;
  quiet?: boolean;
  /** Simulated nodes to run, each in its own network namespace with an agent and a node runner (default 0). */
  nodes?: number;
  /** What runs pods on the nodes: real kubelet + containerd (the default) or the stand-in runner. */
  runtime?: NodeRuntime;
  /** Run the ciliate-operator too (cluster-pool IPAM from 10.245.0.0/16, GC, policy Valid status). */
  operator?: boolean;
  /** Run the agents and the operator from their JavaScript bundles (`npm run build:bundles`), as the images do. */
  bundled?: boolean;
  /** `cilium-config` settings for the agents, over the local cluster's own (e.g. `{ 'cluster-name': 'blue' }`; with `install: 'helm'` they reach the chart as `cluster.name` and `extraConfig`). */
  ciliumConfig?: Record<string, string>;
  /**
   * How Ciliate runs on real nodes: `process` (the default) starts each agent and the operator as
   * host processes; `helm` builds the images, imports them into every node and runs `helm install`
   * of charts/ciliate, so agents and operator are pods (each node gets its own mount namespace).
   */
  install?: InstallMode;
  /**
   * Real nodes (by index) whose own mount namespace has no BPF filesystem at /sys/fs/bpf, as hosts
   * without one (`install: 'helm'` only). What the chart's agent does there depends on
   * `bpf.autoMount.enabled`, so `up` waits neither for these nodes nor for the release's pods.
   */
  withoutBpffs?: number[];
  /** Extra `--set` values of the release (`install: 'helm'`), e.g. `bpf.autoMount.enabled=false`. */
  helmValues?: string[];
}

/** What `up` returns. */
export interface RunningCluster {
  name: string;
  kubeconfig: string;
  binDir: string;
  config: ClusterConfig;
}

/** Thrown when `up` finds the cluster already running. */
export class ClusterRunningError extends Error {}

/** Starts a cluster and resolves once its API answers. */
export async function up(opts: UpOptions = {}): Promise<RunningCluster> {
  const name = opts.name ?? DEFAULT_CLUSTER;
  checkClusterName(name);
  const paths = clusterPaths(name, opts.stateRoot);
  const p = progress(opts.quiet);
  const existing = readState(paths.state);
  if (existing && alive(existing.supervisorPid)) {
    throw new ClusterRunningError(`cluster "${name}" is already running (supervisor pid ${existing.supervisorPid}); run "ciliate cluster down${name === DEFAULT_CLUSTER ? '' : ` --name ${name}`}" first`);
  }
  if (existsSync(paths.dir)) await down({ name, stateRoot: opts.stateRoot, quiet: true });

  nodeConfigs({ name, dir: paths.dir, network: { bridge: '', cidr: '', gateway: '0.0.0.0', slot: 0 } }, opts.nodes ?? 0); // validates the count early
  const binDir = await p.step('control-plane binaries (built from source on first use)', () => ensureToolchain());
  mkdirSync(paths.logs, { recursive: true });
  try {
    const network = await p.step(`node network on link ${bridgeName(name)}`, () => createNodeNetwork(name));
    // The slot's own ports, which no other cluster chooses; 6443 when free, for the API. Clusters
    // started together may both see 127.0.0.1:6443 free: the supervisor then moves one (supervisor.ts).
    const slot = slotPorts(network.slot);
    const config: ClusterConfig = {
      name, dir: paths.dir, binDir, network, serviceCIDR: SERVICE_CIDR,
      ports: {
        apiserver: await preferredPort(6443, network.gateway, slot.apiserver),
        loopback: await preferredPort(6443, '127.0.0.1', slot.loopback),
        etcdClient: slot.etcdClient, etcdPeer: slot.etcdPeer,
        controllerManager: slot.controllerManager, scheduler: slot.scheduler,
      },
    };
    config.nodes = nodeConfigs(config, opts.nodes ?? 0);
    for (const i of opts.withoutBpffs ?? []) {
      const node = config.nodes[i];
      if (!node || opts.install !== 'helm') throw new Error(`withoutBpffs: ${i} is not a node of a helm-installed cluster of ${config.nodes.length} nodes`);
      node.bpffs = false;
    }
    if (opts.bundled) config.bundled = true;
    if (config.nodes.length > 0) {
      config.nodeRuntime = opts.runtime ?? 'kubelet';
      if (config.nodeRuntime === 'kubelet') {
        const images = await p.step('node images (built locally on first use)', () => ensureNodeImages());
        config.images = images.map((i) => i.path);
        if (opts.install === 'helm') {
          config.install = 'helm';
          config.images.push(...await p.step('Ciliate images (npm run images)', () => ciliateImageArchives()));
        }
        claimHostSysctls(name);
      }
    }
    if (opts.ciliumConfig) config.ciliumConfig = opts.ciliumConfig;
    // The Hubble Relay on the slot's port; the supervisor forwards upstream's 4245 to it when free.
    if (config.nodes.length > 0) config.hubbleRelay = { port: slot.hubbleRelay, listenPort: slot.hubbleRelay };
    if (opts.install === 'helm' && config.install !== 'helm') throw new Error('--install helm needs real nodes (--nodes N with the kubelet runtime)');
    if (opts.operator && config.install !== 'helm') {
      config.operator = { clusterPoolIPv4CIDR: OPERATOR_POD_CIDR, maskSize: 24, metricsPort: slot.operatorMetrics, healthPort: slot.operatorHealth };
    }
    await p.step('certificates and kubeconfigs', () => writeCredentials(config));
    for (const node of config.nodes) {
      await p.step(`node ${node.name} (network namespace, ${node.address})`, async () => {
        await writeNodeFiles(config, node, REPO_ROOT);
        await createNodeNetns(node, network.bridge, name);
        if (config.nodeRuntime === 'kubelet') {
          const helm = config.install === 'helm';
          await writeRuntimeFiles(node, pkiFiles(join(paths.dir, 'pki')).ca.cert, helm ? undefined : join(REPO_ROOT, 'build', 'cni', 'ciliate-cni'));
          createNodeCgroups(node.name);
          if (helm) await createNodeMountNs(node.name, node.dir, node.cgroup, node.bpffs ?? true);
        }
      });
    }
    await writeJsonAtomic(join(paths.dir, 'config.json'), config);
    await p.step('etcd, kube-apiserver, kube-controller-manager, kube-scheduler', () => startSupervisor(paths.dir, paths.state));
    // The supervisor may have moved the loopback port (see supervisor.ts); report what it uses.
    Object.assign(config, readJson<ClusterConfig>(join(paths.dir, 'config.json')) ?? {});
    const awaited = config.nodes.filter((n) => n.bpffs !== false);
    if (config.install === 'helm') {
      const wait = awaited.length === config.nodes.length;
      await p.step('helm install ciliate charts/ciliate -n kube-system (agents and operator as pods)', () => installCiliate(config, opts.helmValues, wait));
    }
    if (config.nodes.length > 0) {
      await p.step(`nodes Ready (${config.nodeRuntime === 'kubelet' ? 'containerd, kubelets and agents' : 'agents and node runners'})`, () => waitNodesReady(paths.kubeconfig, awaited.map((n) => n.name)));
      if (config.nodeRuntime === 'kubelet') await p.step('cluster DNS (CoreDNS behind kube-dns)', () => installClusterDns(binDir, paths.kubeconfig));
    }
    return { name, kubeconfig: paths.kubeconfig, binDir, config };
  } catch (err) {
    await down({ name, stateRoot: opts.stateRoot, quiet: true, keepLogs: true }).catch(() => undefined);
    throw err;
  }
}

async function writeCredentials(c: ClusterConfig): Promise<void> {
  const pkiDir = join(c.dir, 'pki');
  const sans = ['IP:127.0.0.1', `IP:${c.network.gateway}`, `IP:${KUBERNETES_SERVICE_IP}`, 'DNS:localhost', 'DNS:kubernetes',
    'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'];
  const pki = await createPki(pkiDir, sans);
  const direct = `https://${c.network.gateway}:${c.ports.apiserver}`;
  await writeKubeconfig(join(c.dir, 'admin.kubeconfig'), c.name, `https://127.0.0.1:${c.ports.loopback}`, pki.ca.cert, pki.admin, 'admin');
  await writeKubeconfig(join(c.dir, 'controller-manager.kubeconfig'), c.name, direct, pki.ca.cert, pki.controllerManager, 'system:kube-controller-manager');
  await writeKubeconfig(join(c.dir, 'scheduler.kubeconfig'), c.name, direct, pki.ca.cert, pki.scheduler, 'system:kube-scheduler');
}

async function startSupervisor(dir: string, statePath: string): Promise<void> {
  const log = openSync(join(dir, 'logs', 'supervisor.log'), 'a');
  // --import resolves 'tsx' from the working directory: the repository root.
  const child = spawn(process.execPath, ['--import', 'tsx', SUPERVISOR, dir], {
    cwd: REPO_ROOT, detached: true, stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + UP_TIMEOUT_MS;
  for (;;) {
    const s = readState(statePath);
    if (s?.phase === 'running') return;
    if (s?.phase === 'failed' || !alive(child.pid)) {
      throw new Error(describeFailure(s, join(dir, 'logs', 'supervisor.log')));
    }
    if (Date.now() > deadline) throw new Error(`the control plane did not come up within ${UP_TIMEOUT_MS / 1000}s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A failure message with the tail of the log of the component that failed. */
export function describeFailure(s: ClusterState | undefined, supervisorLog: string): string {
  const failed = Object.entries(s?.components ?? {}).find(([, c]) => c.phase === 'exited');
  const log = failed ? failed[1].log : supervisorLog;
  return `${s?.error ?? 'the supervisor exited'}\n--- last lines of ${log} ---\n${tail(log, 25)}`;
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Options of `down`. */
export interface DownOptions {
  name?: string;
  stateRoot?: string;
  quiet?: boolean;
  /** Keep the logs folder (used when `up` fails, so the logs can be read). */
  keepLogs?: boolean;
}

/** Stops a cluster and removes every process, file and link `up` made. Safe to repeat. */
export async function down(opts: DownOptions = {}): Promise<boolean> {
  const name = opts.name ?? DEFAULT_CLUSTER;
  checkClusterName(name);
  const paths = clusterPaths(name, opts.stateRoot);
  const p = progress(opts.quiet);
  const state = readState(paths.state);
  const existed = existsSync(paths.dir);
  if (state && alive(state.supervisorPid)) {
    await p.step('stopping the control plane', async () => {
      process.kill(state.supervisorPid, 'SIGTERM');
      const deadline = Date.now() + 15_000;
      while (alive(state.supervisorPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (alive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGKILL');
    });
  }
  for (const c of Object.values(state?.components ?? {})) if (alive(c.pid)) process.kill(c.pid!, 'SIGKILL');
  // Real nodes' containers, mounts and cgroups (found from the node folders, so this works after a crash too).
  const nodesDir = join(paths.dir, 'nodes');
  for (const node of existsSync(nodesDir) ? readdirSync(nodesDir) : []) await teardownNodeRuntime(node, join(nodesDir, node));
  await deleteClusterNodes(name);
  releaseHostSysctls(name);
  await deleteNodeNetwork(name);
  removeClusterPins(name);
  if (opts.keepLogs) {
    for (const f of ['etcd', 'pki', 'state.json', 'config.json']) rmSync(join(paths.dir, f), { recursive: true, force: true });
  } else {
    rmSync(paths.dir, { recursive: true, force: true });
  }
  if (existed && !opts.quiet) p.info(`cluster "${name}" removed`);
  return existed;
}

/** A human-readable report of a cluster: phase, components, endpoints. */
export interface StatusReport {
  name: string;
  running: boolean;
  text: string;
}

/** Reports on a cluster, naming any component that died and showing its log. */
export async function status(opts: { name?: string; stateRoot?: string } = {}): Promise<StatusReport> {
  const name = opts.name ?? DEFAULT_CLUSTER;
  checkClusterName(name);
  const paths = clusterPaths(name, opts.stateRoot);
  const state = readState(paths.state);
  const config = readJson<ClusterConfig>(join(paths.dir, 'config.json'));
  if (!state || !config) return { name, running: false, text: `cluster "${name}" is not running` };
  const supervisorUp = alive(state.supervisorPid);
  const lines = [
    `cluster "${name}": ${supervisorUp ? state.phase : 'supervisor not running'}`,
    `  apiserver   https://127.0.0.1:${config.ports.loopback} (https://${config.network.gateway}:${config.ports.apiserver} on ${config.network.bridge})`,
    `  kubeconfig  ${paths.kubeconfig}`,
    ...(config.hubbleRelay ? [`  hubble      127.0.0.1:${config.hubbleRelay.port} (hubble-relay)`] : []),
  ];
  let allLive = true;
  for (const [n, c] of Object.entries(state.components)) {
    const live = c.phase !== 'exited' && alive(c.pid);
    allLive &&= live;
    const restarts = c.restarts ? `  restarts ${c.restarts}` : '';
    lines.push(`  ${n.padEnd(24)} ${live ? c.phase : `exited (${c.signal ?? `code ${c.exitCode ?? '?'}`})`}  pid ${c.pid ?? '-'}${restarts}`);
    if (!live) lines.push(`--- last lines of ${c.log} ---`, tail(c.log, 20), '---');
  }
  if (state.error) lines.push(`  error: ${state.error}`);
  const running = supervisorUp && state.phase === 'running' && allLive;
  return { name, running, text: lines.join('\n') };
}

/** The admin kubeconfig path of a cluster. */
export function kubeconfigPath(opts: { name?: string; stateRoot?: string } = {}): string {
  return clusterPaths(opts.name ?? DEFAULT_CLUSTER, opts.stateRoot).kubeconfig;
}
