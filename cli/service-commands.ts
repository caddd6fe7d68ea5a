/**
 * `ciliate service list` (each node agent's desired service state: frontend -> backends) and
 * `ciliate bpf lb list` (what the kernel's pinned LB maps hold on each node). No API access needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES_STATE_FILE, type ServiceListRow } from '../agent/lb-sync.ts';
import { KERNEL_HEALTH_FILE, type KernelHealth } from '../agent/kernel-tables.ts';
import { clusterConfig } from '../cluster/pods.ts';
import { agentStateDir } from '../cluster/agent-launch.ts';
import { clusterPaths, DEFAULT_CLUSTER } from '../cluster/paths.ts';
import { alive, readState } from '../cluster/state.ts';
import { nodePinRoot } from '../cluster/node-config.ts';
import { BpfMap } from '../datapath/maps/bpf-map.ts';
import { l4AddrText, LB_CODECS, LB_SCOPE, readLbServices } from '../datapath/maps/lb.ts';
import { flag, type Args } from './args.ts';

/**
 * `path` as seen inside a node's own mount namespace (the chart's nodes have a BPF filesystem of
 * their own): through the root of the node's containerd, which runs in that namespace.
 */
function inNodeMounts(node: { name: string; cluster: string }, path: string): string {
  const pid = readState(clusterPaths(node.cluster).state)?.components[`containerd-${node.name}`]?.pid;
  if (!pid || !alive(pid)) throw new Error(`${node.name}'s containerd is not running, so its BPF filesystem cannot be read`);
  return `/proc/${pid}/root${path}`;
}

/** Usage of the three commands. */
export const SERVICE_USAGE = `  service list [--name C] [--node N]        each agent's services: frontend -> backends (desired state)
  bpf lb list [--name C] [--node N]         the kernel's LB maps on each node
  bpf errors [--name C] [--node N]          each agent's kernel tables: rows pending and in error, and why`;

/** The nodes the flags select, each with its agent's state folder and whether the chart runs it (helm). */
export function nodesOf(args: Args): Array<{ name: string; stateDir: string; cluster: string; helm: boolean }> {
  const cluster = flag(args, 'name') ?? DEFAULT_CLUSTER;
  const only = flag(args, 'node');
  const config = clusterConfig(cluster);
  const nodes = (config.nodes ?? []).filter((n) => !only || n.name === only);
  if (only && nodes.length === 0) throw new Error(`no node "${only}" in cluster "${cluster}"`);
  return nodes.map((n) => ({ name: n.name, stateDir: agentStateDir(n, config), cluster, helm: config.install === 'helm' }));
}

/** Prints rows as aligned columns (the first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd());
}

/** Prints each node agent's desired services. */
export function serviceListCommand(args: Args): number {
  const rows = [['NODE', 'SERVICE', 'FRONTEND', 'TYPE', 'OPTIONS', 'BACKENDS']];
  for (const node of nodesOf(args)) {
    const path = join(node.stateDir, SERVICES_STATE_FILE);
    const list = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as ServiceListRow[] : [];
    for (const s of list) {
      const options = [s.algorithm ?? 'random', ...(s.affinityTimeoutSec ? [`affinity=${s.affinityTimeoutSec}s`] : []), ...(s.internalBackends ? ['external-local'] : [])];
      rows.push([node.name, s.service, s.frontend, s.type ?? 'ClusterIP', options.join(','), s.backends.join(', ') || '(none)']);
    }
  }
  printTable(rows);
  return 0;
}

/** Prints each node agent's kernel tables (rows, pending, in error) and the rows in error or waiting for room; 1 when rows are in error. */
export function bpfErrorsCommand(args: Args): number {
  const tables = [['NODE', 'TABLE', 'ROWS', 'PENDING', 'ERROR']];
  const errors = [['NODE', 'MAP', 'ORIGIN', 'ERROR OR WAIT']];
  let failed = false;
  for (const node of nodesOf(args)) {
    const path = join(node.stateDir, KERNEL_HEALTH_FILE);
    if (!existsSync(path)) continue;
    const health = JSON.parse(readFileSync(path, 'utf8')) as KernelHealth;
    for (const [name, h] of Object.entries(health.tables)) tables.push([node.name, name, String(h.rows), String(h.pending), String(h.error)]);
    for (const e of health.errors) errors.push([node.name, e.map, e.origin, e.message]);
    failed ||= health.errors.length > 0;
    for (const e of health.waiting ?? []) errors.push([node.name, e.map, e.origin, e.message]);
  }
  printTable(tables);
  if (errors.length > 1) {
    console.log('');
    printTable(errors);
  }
  return failed ? 1 : 0;
}

/**
 * Prints the frontends and backends in each node's pinned LB maps (when the chart runs Ciliate,
 * in the node's own BPF filesystem).
 */
export function bpfLbListCommand(args: Args): number {
  const rows = [['NODE', 'FRONTEND', 'SCOPE', 'REVNAT', 'BACKENDS']];
  for (const node of nodesOf(args)) {
    const root = node.helm ? inNodeMounts(node, nodePinRoot(node.cluster, node.name)) : nodePinRoot(node.cluster, node.name);
    if (!existsSync(join(root, 'cilium_lb4_services_v2'))) continue;
    using services = BpfMap.openPinned(join(root, 'cilium_lb4_services_v2'), LB_CODECS.serviceKey, LB_CODECS.service);
    using backends = BpfMap.openPinned(join(root, 'cilium_lb4_backends_v3'), LB_CODECS.backendId, LB_CODECS.backend);
    for (const s of readLbServices({ services, backends })) {
      rows.push([node.name, l4AddrText(s.frontend), s.scope === LB_SCOPE.INT ? 'internal' : 'external', String(s.revNatIndex), s.backends.join(', ') || '(none)']);
    }
  }
  printTable(rows);
  return 0;
}
