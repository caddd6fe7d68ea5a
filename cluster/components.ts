/**
 * Command lines of the control-plane components, and how to tell each one is healthy.
 * Every listener binds to loopback or to the cluster bridge's address, never to all addresses.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkiFiles } from './pki.ts';
import type { ClusterConfig } from './config.ts';
import { CLUSTER_POD_CIDR } from './node-config.ts';
import { netnsPath } from './nodes.ts';
import { importImages, waitContainerd } from './kubelet-node/images-import.ts';
import { runtimePaths } from './kubelet-node/paths.ts';
import { nodeMountNs } from './kubelet-node/mount-ns.ts';
import { agentInvocation, HUBBLE_PORT, localCiliumConfig } from './agent-launch.ts';
import { portFree } from './ports.ts';
import { existsSync } from 'node:fs';
import type { BundleName } from '../images/bundles.ts';
import { nodeCommand } from '../images/node-flags.ts';

const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TSX = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');

/**
 * How Node.js runs one of Ciliate's programs: its TypeScript entry under tsx, or (`bundled`) its
 * bundle from build/bundle, finding the datapath's files in the checkout as the images find theirs.
 */
export function ciliateProgram(entry: string, bundle: BundleName, bundled: boolean | undefined): { argv: string[]; env: Record<string, string> } {
  if (!bundled) return { argv: [process.execPath, '--import', TSX, join(REPO_ROOT, entry)], env: {} };
  const file = join(REPO_ROOT, 'build', 'bundle', `${bundle}.mjs`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build:bundles`);
  return { argv: nodeCommand(process.execPath, bundle, file), env: { CILIATE_DATAPATH_DIR: join(REPO_ROOT, 'datapath') } };
}

/**
 * Per node, the processes that make it, each inside the node's network namespace: with real nodes
 * its containerd (the images imported once it answers), its kubelet and its agent (none when the
 * chart runs the agents as pods); with stand-in nodes its agent and the node runner.
 */
export function nodeComponentSpecs(c: ClusterConfig): ComponentSpec[] {
  return (c.nodes ?? []).flatMap((n) => {
    const inNode = (command: string, ...args: string[]) => ({ command: 'nsenter', args: [`--net=${netnsPath(n.netns)}`, '--', command, ...args] });
    const launch = agentInvocation(n);
    const program = ciliateProgram('agent/agent-main.ts', 'agent', c.bundled);
    const agent: ComponentSpec = {
      name: `agent-${n.name}`, restart: true, env: { ...program.env, ...launch.env },
      ...inNode(program.argv[0]!, ...program.argv.slice(1), ...launch.args),
    };
    const runner: ComponentSpec = {
      name: `runner-${n.name}`, restart: true, ...inNode(process.execPath, '--import', TSX, join(REPO_ROOT, 'nodes', 'runner-main.ts'), c.dir, n.name),
    };
    if (c.nodeRuntime !== 'kubelet') return [agent, runner];
    const p = runtimePaths(n.dir);
    // With Ciliate installed by Helm the agent is a pod, and the node's daemons run in its own mount namespace.
    const helm = c.install === 'helm';
    const inRuntime = helm ? (command: string, ...args: string[]) => ({ command: 'nsenter', args: [`--net=${netnsPath(n.netns)}`, `--mount=${nodeMountNs(n.name)}`, '--', command, ...args] }) : inNode;
    return [
      {
        name: `containerd-${n.name}`, restart: true, ...inRuntime('containerd', '--config', p.containerdConfig),
        ready: async () => {
          await waitContainerd(p.containerdSocket);
          await importImages(p.containerdSocket, c.images ?? []);
        },
      },
      ...(helm ? [] : [agent]),
      {
        name: `kubelet-${n.name}`, restart: true,
        ...inRuntime(join(c.binDir, 'kubelet'), `--config=${p.kubeletConfig}`, `--kubeconfig=${n.kubeconfig}`, `--root-dir=${p.kubeletRoot}`,
          `--hostname-override=${n.name}`, `--node-ip=${n.address}`, '--v=1'),
      },
    ];
  });
}

/** The ciliate-operator, when the cluster runs one: cluster-pool IPAM, GC, policy status. */
export function operatorComponentSpec(c: ClusterConfig): ComponentSpec | undefined {
  const o = c.operator;
  if (!o) return undefined;
  const program = ciliateProgram('operator/main.ts', 'operator', c.bundled);
  return {
    name: 'ciliate-operator',
    command: program.argv[0]!,
    env: program.env,
    args: [...program.argv.slice(1),
      `--k8s-kubeconfig-path=${join(c.dir, 'admin.kubeconfig')}`, '--k8s-namespace=kube-system', `--operator-id=${c.name}`,
      `--cluster-pool-ipv4-cidr=${o.clusterPoolIPv4CIDR}`, `--cluster-pool-ipv4-mask-size=${o.maskSize}`,
      `--operator-prometheus-serve-addr=127.0.0.1:${o.metricsPort}`, `--operator-api-serve-addr=127.0.0.1:${o.healthPort}`],
    health: { url: `http://127.0.0.1:${o.healthPort}/healthz`, clientCert: false },
  };
}

/** Upstream's Hubble Relay port, which the supervisor forwards to the local cluster's relay when free. */
export const HUBBLE_RELAY_PORT = 4245;

/**
 * The Hubble Relay on the host, as the chart's hubble-relay Deployment runs it: it follows the
 * first node's peer service and reaches every agent at its node address (the host is on the node
 * bridge); it serves the Observer API on the slot's loopback port only, which no other cluster
 * takes. Restarted when it exits, as a Deployment's pod.
 */
export function hubbleRelayComponentSpec(c: ClusterConfig): ComponentSpec | undefined {
  const first = c.nodes?.[0];
  if (!c.hubbleRelay || !first) return undefined;
  const port = c.hubbleRelay.listenPort;
  const program = ciliateProgram('hubble/relay/main.ts', 'hubble-relay', c.bundled);
  return {
    name: 'hubble-relay', command: program.argv[0]!, env: program.env, restart: true,
    args: [...program.argv.slice(1), 'serve', `--peer-service=${first.address}:${HUBBLE_PORT}`, `--listen-address=127.0.0.1:${port}`,
      '--health-listen-address=', `--cluster-name=${localCiliumConfig(c)['cluster-name']}`, '--retry-timeout=5s'],
    ready: async () => {
      for (let i = 0; i < 150 && (await portFree(port)); i++) await new Promise((r) => setTimeout(r, 200));
    },
  };
}

/** One process the supervisor runs. */
export interface ComponentSpec {
  /** Component name: the control-plane binaries, or `agent-<node>` / `runner-<node>`. */
  name: string;
  command: string;
  args: string[];
  /** URL polled until it answers 200; `clientCert` says whether the admin certificate is presented. Absent: running once spawned. */
  health?: { url: string; clientCert: boolean };
  /** Awaited after the first start, before the next component starts (e.g. containerd answering, images imported). */
  ready?: () => Promise<void>;
  /** Restart it when it exits, as kubelet restarts a node's daemons (node components); others stay dead and are reported. */
  restart?: boolean;
  /** Environment variables set for it, over the supervisor's. */
  env?: Record<string, string>;
}

/** The four components in start order. */
export function componentSpecs(c: ClusterConfig): ComponentSpec[] {
  const pki = pkiFiles(join(c.dir, 'pki'));
  const bin = (n: string) => join(c.binDir, n);
  const gw = c.network.gateway;
  const etcdUrl = `http://127.0.0.1:${c.ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${c.ports.etcdPeer}`;
  return [
    {
      name: 'etcd',
      command: bin('etcd'),
      args: [
        `--name=${c.name}`, `--data-dir=${join(c.dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${c.name}=${peerUrl}`, '--unsafe-no-fsync', '--log-level=warn',
        '--listen-metrics-urls=',
      ],
      health: { url: `${etcdUrl}/health`, clientCert: false },
    },
    {
      name: 'kube-apiserver',
      command: bin('kube-apiserver'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${gw}`, `--advertise-address=${gw}`, `--secure-port=${c.ports.apiserver}`,
        `--tls-cert-file=${pki.apiserver.cert}`, `--tls-private-key-file=${pki.apiserver.key}`,
        `--client-ca-file=${pki.ca.cert}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        `--service-cluster-ip-range=${c.serviceCIDR}`,
        '--authorization-mode=Node,RBAC', '--allow-privileged=true', '--profiling=false',
        '--enable-admission-plugins=NodeRestriction',
        // Logs, exec and port-forward go through the kubelets, found by their node address.
        `--kubelet-client-certificate=${pki.kubeletClient.cert}`, `--kubelet-client-key=${pki.kubeletClient.key}`,
        '--kubelet-preferred-address-types=InternalIP',
      ],
      health: { url: `https://${gw}:${c.ports.apiserver}/readyz`, clientCert: true },
    },
    {
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${join(c.dir, 'controller-manager.kubeconfig')}`,
        `--authentication-kubeconfig=${join(c.dir, 'controller-manager.kubeconfig')}`,
        `--authorization-kubeconfig=${join(c.dir, 'controller-manager.kubeconfig')}`,
        '--bind-address=127.0.0.1', `--secure-port=${c.ports.controllerManager}`, '--leader-elect=false',
        `--service-account-private-key-file=${pki.serviceAccountKey}`, `--root-ca-file=${pki.ca.cert}`,
        `--cluster-signing-cert-file=${pki.ca.cert}`, `--cluster-signing-key-file=${pki.ca.key}`,
        `--service-cluster-ip-range=${c.serviceCIDR}`, '--use-service-account-credentials', '--controllers=*',
        '--profiling=false',
        // Real nodes get their pod CIDRs from here (stand-in nodes write their own).
        ...(c.nodeRuntime === 'kubelet' ? ['--allocate-node-cidrs=true', `--cluster-cidr=${CLUSTER_POD_CIDR}`, '--node-cidr-mask-size=24'] : []),
      ],
      health: { url: `https://127.0.0.1:${c.ports.controllerManager}/healthz`, clientCert: false },
    },
    {
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      args: [
        `--kubeconfig=${join(c.dir, 'scheduler.kubeconfig')}`,
        `--authentication-kubeconfig=${join(c.dir, 'scheduler.kubeconfig')}`,
        `--authorization-kubeconfig=${join(c.dir, 'scheduler.kubeconfig')}`,
        '--bind-address=127.0.0.1', `--secure-port=${c.ports.scheduler}`, '--leader-elect=false', '--profiling=false',
      ],
      health: { url: `https://127.0.0.1:${c.ports.scheduler}/healthz`, clientCert: false },
    },
  ];
}
