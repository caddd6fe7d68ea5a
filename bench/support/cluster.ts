/** A one-node local cluster for a bench: started with a unique name, removed however the bench ends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';

/** Runs `fn` against a fresh one-node cluster with the operator (named `<prefix><pid>`), then removes it. */
export async function withBenchCluster<T>(prefix: string, describe: (name: string) => string, fn: (cluster: RunningCluster, name: string) => Promise<T>): Promise<T> {
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-bench-'));
  const name = `${prefix}${process.pid % 10000}`;
  console.log(describe(name));
  try {
    return await fn(await up({ name, stateRoot, nodes: 1, operator: true, runtime: 'runner', quiet: true }), name);
  } finally {
    await down({ name, stateRoot, quiet: true });
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

/** Runs a bench's main, printing a failure and exiting non-zero. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
