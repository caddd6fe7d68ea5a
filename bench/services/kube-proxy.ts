/**
 * Upstream kube-proxy (iptables mode, built from the cluster's Kubernetes version by
 * `cluster/toolchain/build.sh kube-proxy`) running in the bench's isolated kp node namespace,
 * as user `system:kube-proxy` (bound by the apiserver's default `system:node-proxier` role).
 */
import { mkdirSync, openSync, closeSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { run } from '../../runtime/exec.ts';
import type { ClusterConfig } from '../../cluster/config.ts';
import { netnsPath } from '../../cluster/nodes.ts';
import { issueCertificate, pkiFiles, writeKubeconfig } from '../../cluster/pki.ts';
import { ensureToolchain } from '../../cluster/toolchain.ts';

/** Which iptables kube-proxy drives: Debian's default (nf_tables) or the legacy xtables one. */
export type IptablesBackend = 'nft' | 'legacy';

const IPTABLES_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'];

/** The kube-proxy binary, built on first use (several minutes) into its own cache folder. */
export async function kubeProxyBinary(): Promise<string> {
  return join(await ensureToolchain((line) => console.error(line), 'kube-proxy'), 'kube-proxy');
}

/** A kubeconfig for user system:kube-proxy that reaches the apiserver on the cluster bridge's address. */
export async function writeKubeProxyKubeconfig(config: ClusterConfig, path: string): Promise<void> {
  const pki = join(config.dir, 'pki');
  const cert = await issueCertificate(pki, 'svcbench-kube-proxy', '/CN=system:kube-proxy', 'client');
  await writeKubeconfig(path, config.name, `https://${config.network.gateway}:${config.ports.apiserver}`, pkiFiles(pki).ca.cert, cert, 'system:kube-proxy');
}

/** A folder whose iptables* commands are `backend`'s (the xtables multi-binaries dispatch on their name). */
function iptablesShim(dir: string, backend: IptablesBackend): string {
  mkdirSync(dir, { recursive: true });
  for (const tool of IPTABLES_TOOLS) symlinkSync(`/usr/sbin/xtables-${backend}-multi`, join(dir, tool));
  return dir;
}

/** A running kube-proxy and how to read the rules it wrote. */
export interface KubeProxy {
  process: ChildProcess;
  log: string;
  /** ClusterIPs in the order of the nat table's KUBE-SERVICES chain (the order packets walk it). */
  serviceChainOrder(): Promise<string[]>;
}

/** Starts kube-proxy in namespace `netns`; its log goes to `workDir`/kube-proxy.log. */
export function startKubeProxy(opts: {
  bin: string; kubeconfig: string; netns: string; nodeAddr: string; clusterCidr: string; workDir: string; backend: IptablesBackend;
}): KubeProxy {
  const shim = iptablesShim(join(opts.workDir, `iptables-${opts.backend}`), opts.backend);
  const log = join(opts.workDir, 'kube-proxy.log');
  const fd = openSync(log, 'a');
  const child = spawn('nsenter', [`--net=${netnsPath(opts.netns)}`, '--', opts.bin,
    '--proxy-mode=iptables', `--kubeconfig=${opts.kubeconfig}`, `--hostname-override=${opts.netns}`,
    `--bind-address=${opts.nodeAddr}`, `--cluster-cidr=${opts.clusterCidr}`,
    // Leave the machine-wide conntrack table size and the namespace's timeouts as they are.
    '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0',
    '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=127.0.0.1:10249', '--v=2',
  ], { stdio: ['ignore', fd, fd], env: { ...process.env, PATH: `${shim}:${process.env.PATH ?? '/usr/sbin:/usr/bin'}` } });
  closeSync(fd);
  return {
    process: child,
    log,
    async serviceChainOrder() {
      const out = await run('nsenter', [`--net=${netnsPath(opts.netns)}`, '--', join(shim, 'iptables-save'), '-t', 'nat']);
      const ips: string[] = [];
      for (const m of out.matchAll(/^-A KUBE-SERVICES -d (\d+\.\d+\.\d+\.\d+)\/32 .*-j KUBE-SVC-/gm)) ips.push(m[1]!);
      return ips;
    },
  };
}
