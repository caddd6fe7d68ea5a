/**
 * bench/peer: upstream's `[sig-network]` NetworkPolicy and Services conformance specs (the pinned
 * e2e.test) against Ciliate on a two-node local cluster of real nodes; prints pass, fail and skip
 * counts per suite with the failing specs. See README.md.
 *
 * Usage: npx tsx bench/peer/run.ts [netpol|services|services-extended|all] [--slice] [--cluster NAME | --kubeconfig PATH] [--procs N] [--out DIR] [--keep-cluster]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { down, up } from '../../cluster/cluster.ts';
import { readJson, type ClusterConfig } from '../../cluster/config.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { ensureToolchain } from '../../cluster/toolchain.ts';
import { REAL_NODES_CILIUM_CONFIG, uniqueClusterName } from '../../test/support/cluster.ts';
import { runE2e } from './e2e.ts';
import { counts, duration, formatSuiteResult, suiteResult, summaryLine, type SuiteResult } from './report.ts';
import { selection, suiteNamed, SUITES } from './suites.ts';
import { runBench } from '../support/cluster.ts';

const USAGE = 'usage: bench/peer/run.ts [netpol|services|services-extended|all] [--slice] [--cluster NAME | --kubeconfig PATH] [--procs N] [--out DIR] [--keep-cluster]';
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    slice: { type: 'boolean', default: false },
    cluster: { type: 'string' },
    kubeconfig: { type: 'string' },
    procs: { type: 'string', default: '1' },
    out: { type: 'string' },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const which = positionals[0] ?? 'all';
const suites = which === 'all' ? SUITES : [suiteNamed(which)];
const PROCS = Number(args.procs);
if (positionals.length > 1 || !(Number.isInteger(PROCS) && PROCS >= 1)) throw new Error(USAGE);
const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

/**
 * The cluster to test: any cluster by --kubeconfig (kind, say; kubectl from PATH), the running local
 * one named by --cluster, or a fresh two-node local one this run removes.
 */
interface Target {
  name: string;
  kubeconfig: string;
  kubectl: string;
  remove?: () => Promise<void>;
}

async function startCluster(aborted: AbortSignal): Promise<Target> {
  if (args.kubeconfig) return { name: args.kubeconfig, kubeconfig: args.kubeconfig, kubectl: 'kubectl' };
  if (args.cluster) {
    const paths = clusterPaths(args.cluster);
    const config = readJson<ClusterConfig>(join(paths.dir, 'config.json'));
    if (!config) throw new Error(`cluster "${args.cluster}" is not running`);
    if ((config.nodes?.length ?? 0) < 2 || config.nodeRuntime === 'runner') throw new Error(`cluster "${args.cluster}" needs two or more kubelet nodes (up --nodes 2)`);
    return { name: config.name, kubeconfig: paths.kubeconfig, kubectl: join(config.binDir, 'kubectl') };
  }
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-peer-'));
  const name = uniqueClusterName('pe');
  const remove = async () => {
    if (args['keep-cluster']) return log(`kept cluster ${name}: CILIATE_STATE_DIR=${stateRoot} ./bin/ciliate cluster down --name ${name}`);
    log(`removing cluster ${name}`);
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  };
  log(`starting cluster ${name} (2 kubelet nodes, Ciliate, operator)`);
  try {
    const c = await up({ name, stateRoot, nodes: 2, runtime: 'kubelet', operator: true, ciliumConfig: { ...REAL_NODES_CILIUM_CONFIG }, quiet: true });
    if (aborted.aborted) throw new Error('interrupted');
    return { name, kubeconfig: c.kubeconfig, kubectl: join(c.binDir, 'kubectl'), remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

async function main(): Promise<void> {
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      log(`${sig}: interrupting the run; the cluster is removed afterwards`);
      abort.abort();
    });
  }
  const e2eBin = await ensureToolchain((l) => log(l), 'e2e');
  const out = args.out ?? mkdtempSync(join(tmpdir(), 'ciliate-peer-out-'));
  mkdirSync(out, { recursive: true });
  const target = await startCluster(abort.signal);
  const results: SuiteResult[] = [];
  try {
    for (const suite of suites) {
      if (abort.signal.aborted) break;
      log(`${suite.name}${args.slice ? ' (CI slice)' : ''}: e2e.test on cluster ${target.name}, ${PROCS} process(es); log in ${join(out, suite.name, 'e2e.log')}`);
      const run = await runE2e({
        e2eBin, kubeconfig: target.kubeconfig, kubectl: target.kubectl, selection: selection(suite, args.slice),
        workDir: join(out, suite.name), processes: PROCS, onSpec: (l) => log(`  ${l}`), signal: abort.signal,
      });
      if (!run.report) throw new Error(`${suite.name}: e2e.test exited ${run.exitCode} without a report; see ${run.logPath}`);
      const result = suiteResult(run.report, suite, run.seconds, args.slice ? suite.slice : undefined);
      results.push(result);
      console.log(formatSuiteResult(result).join('\n'));
    }
  } finally {
    await target.remove?.();
  }
  console.log(`\n${results.map(summaryLine).join('\n')}\ntotal ${duration(results.reduce((s, r) => s + r.seconds, 0))}; logs and reports in ${out}`);
  if (abort.signal.aborted || results.some((r) => counts(r).failed > 0 || r.suiteFailures.length > 0)) process.exitCode = 1;
}

runBench(main);
