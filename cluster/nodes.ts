/**
 * Simulated nodes: each node is a network namespace `<cluster>-n<i>` joined to the cluster bridge
 * by a veth pair, with address 172.29.<k>.(10+i)/24 on its `eth0` and IPv4 forwarding on inside
 * that namespace only. Nothing here touches the host's routes or its uplink.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../runtime/exec.ts';
import { ensureNodeCgroup, removeClusterCgroup } from './cgroup.ts';
import { linkExists } from './network.ts';
import { isClusterNetns, nodeConfig, AGENT_RUN_ROOT, type NodeConfig } from './node-config.ts';
import { issueCertificate, pkiFiles, writeKubeconfig } from './pki.ts';
import type { ClusterConfig } from './config.ts';
import { alive } from './state.ts';
import { writeAgentConfigDir } from './agent-launch.ts';

/** Most nodes one local cluster may have (addresses .10-.29 and pod CIDRs 10.244.0-19.0/24). */
export const MAX_NODES = 20;

/** The path of a named network namespace. */
export function netnsPath(netns: string): string {
  return `/run/netns/${netns}`;
}

/** Runs `cmd args` inside network namespace `netns` (nsenter keeps the host's /sys mounts). */
export function inNetns(netns: string, cmd: string, args: string[]): Promise<string> {
  return run('nsenter', [`--net=${netnsPath(netns)}`, '--', cmd, ...args]);
}

/** The configurations of `count` nodes of cluster `c`. */
export function nodeConfigs(c: Pick<ClusterConfig, 'name' | 'dir' | 'network'>, count: number): NodeConfig[] {
  if (!Number.isInteger(count) || count < 0 || count > MAX_NODES) throw new Error(`--nodes must be an integer from 0 to ${MAX_NODES}`);
  return Array.from({ length: count }, (_, i) => nodeConfig(c.name, c.dir, c.network, i));
}

/**
 * Issues a node's credentials and writes its kubeconfig; for a host-process agent (not `install:
 * 'helm'`, whose agent pod brings its own) also the agent's kubeconfig, the CNI conflist, the
 * agent's `cilium-config` and the plugin search path (`cni-path`).
 */
export async function writeNodeFiles(c: ClusterConfig, node: NodeConfig, repoRoot: string): Promise<void> {
  const pkiDir = join(c.dir, 'pki');
  const ca = pkiFiles(pkiDir).ca.cert;
  const server = `https://${c.network.gateway}:${c.ports.apiserver}`;
  await mkdir(node.dir, { recursive: true });
  const nodeCert = await issueCertificate(pkiDir, `node-${node.name}`, `/O=system:nodes/CN=system:node:${node.name}`, 'client');
  await writeKubeconfig(node.kubeconfig, c.name, server, ca, nodeCert, `system:node:${node.name}`);
  if (c.install === 'helm') return;
  await mkdir(node.cniConfDir, { recursive: true, mode: 0o700 });
  const agentCert = await issueCertificate(pkiDir, `agent-${node.name}`, `/O=ciliate:agents/CN=ciliate-agent:${node.name}`, 'client');
  await writeKubeconfig(node.agentKubeconfig, c.name, server, ca, agentCert, `ciliate-agent:${node.name}`);
  const conflist = {
    cniVersion: '1.0.0',
    name: 'ciliate',
    plugins: [{ type: 'ciliate-cni', socket: node.socket, mtu: 1500 }],
  };
  await writeFile(join(node.cniConfDir, '05-ciliate.conflist'), JSON.stringify(conflist, null, 2) + '\n');
  writeAgentConfigDir(c, node);
  // The native relay first; bin/ciliate-cni (the TypeScript plugin) serves when it was not built.
  await writeFile(join(node.dir, 'cni-path'), `${join(repoRoot, 'build', 'cni')}:${join(repoRoot, 'bin')}\n`);
}

/** Creates node `node`'s namespace, attaches it to `bridge`, and makes its cgroup v2 directory. */
export async function createNodeNetns(node: NodeConfig, bridge: string, cluster: string): Promise<void> {
  await deleteNetns(node.netns);
  if (await linkExists(node.hostVeth)) await run('ip', ['link', 'del', node.hostVeth]);
  await run('ip', ['netns', 'add', node.netns]);
  const peer = `${node.hostVeth}p`;
  await run('ip', ['link', 'add', node.hostVeth, 'type', 'veth', 'peer', 'name', peer, 'netns', node.netns]);
  await run('ip', ['link', 'set', node.hostVeth, 'master', bridge, 'up']);
  await run('ip', ['-n', node.netns, 'link', 'set', peer, 'name', 'eth0']);
  await run('ip', ['-n', node.netns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', node.netns, 'link', 'set', 'lo', 'up']);
  await inNetns(node.netns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  await ensureNodeCgroup(cluster, node.name);
}

/** Every network namespace name on this machine. */
export async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['-j', 'netns', 'list']).catch(() => '');
  if (!out.trim()) return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** The processes whose network namespace is `netns`. */
export async function netnsPids(netns: string): Promise<number[]> {
  const out = await run('ip', ['netns', 'pids', netns]).catch(() => '');
  return out.split('\n').map((l) => Number(l.trim())).filter((p) => p > 0 && p !== process.pid);
}

/** Kills every process in `netns`, then deletes it; a missing namespace is not an error. */
export async function deleteNetns(netns: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const pids = await netnsPids(netns);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 2000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  if ((await listNetns()).includes(netns)) await run('ip', ['netns', 'del', netns]);
}

/**
 * Removes every namespace, process and socket folder of `cluster`'s nodes and pods: pod
 * namespaces first, then node namespaces (deleting a namespace also deletes the veths in it,
 * and with them their peers). Safe to repeat.
 */
export async function deleteClusterNodes(cluster: string): Promise<void> {
  const mine = (await listNetns()).filter((n) => isClusterNetns(cluster, n));
  mine.sort((a, b) => b.length - a.length);
  for (const ns of mine) await deleteNetns(ns);
  for (const ns of mine) if (!/-p[0-9a-f]+$/.test(ns)) await rm(join(AGENT_RUN_ROOT, ns), { recursive: true, force: true });
  await removeClusterCgroup(cluster);
}
