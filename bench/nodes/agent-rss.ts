/**
 * bench/nodes/agent-rss: resident memory of the agents and the operator run from TypeScript under tsx
 * (how the local cluster ran them) and from their bundles (how the images run them), on two real-node
 * clusters started one after the other, each with two pods per node. On demand:
 * `npm run build:bundles && npx tsx bench/nodes/agent-rss.ts`.
 * Figures: bench/nodes/RESULTS.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up } from '../../cluster/cluster.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { run } from '../../runtime/exec.ts';
import { readState } from '../../cluster/state.ts';
import { runBench } from '../support/cluster.ts';
import { sleep } from '../support/stats.ts';
import { rssMiB } from './rss.ts';

const PODS_PER_NODE = 2;

/** Agent RSS per node and the operator's, in MiB, for a cluster run `bundled` or not. */
async function measure(bundled: boolean): Promise<{ agents: number[]; operator: number }> {
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-bench-'));
  const name = `br${bundled ? 'b' : 't'}${process.pid % 10000}`;
  try {
    const cluster = await up({ name, stateRoot, nodes: 2, operator: true, bundled, quiet: true });
    const kubectl = (args: string[], input?: string) => run(join(cluster.binDir, 'kubectl'), args, { env: { KUBECONFIG: cluster.kubeconfig }, ...(input !== undefined && { input }) });
    for (const node of cluster.config.nodes!) {
      for (let i = 0; i < PODS_PER_NODE; i++) {
        await kubectl(['apply', '-f', '-'], JSON.stringify({
          apiVersion: 'v1', kind: 'Pod', metadata: { name: `${node.name}-p${i}` },
          spec: { nodeName: node.name, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'docker.io/library/busybox:1.35', command: ['sleep', '3600'] }] },
        }));
      }
    }
    await kubectl(['wait', '--for=condition=Ready', '--timeout=120s', 'pod', '--all']);
    await sleep(10_000); // let start-up garbage settle
    const state = readState(clusterPaths(name, stateRoot).state)!;
    return {
      agents: cluster.config.nodes!.map((n) => rssMiB(state.components[`agent-${n.name}`]?.pid)),
      operator: rssMiB(state.components['ciliate-operator']?.pid),
    };
  } finally {
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`bench/nodes/agent-rss: 2 real nodes, ${PODS_PER_NODE} pods per node, operator on`);
  const source = await measure(false);
  const bundled = await measure(true);
  const line = (what: string, r: { agents: number[]; operator: number }) =>
    console.log(`${what}: agents ${r.agents.map((a) => a.toFixed(0)).join(' / ')} MiB, operator ${r.operator.toFixed(0)} MiB`);
  line('TypeScript under tsx (baseline)', source);
  line('bundles (as the images run)    ', bundled);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`ratio bundled / tsx: agent ${(mean(bundled.agents) / mean(source.agents)).toFixed(2)}x, operator ${(bundled.operator / source.operator).toFixed(2)}x (goals: agent < 120 MiB, operator < 100 MiB)`);
}

runBench(main);
