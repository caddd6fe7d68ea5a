/** The `main` of the node runner: `<cluster folder> <node name>` arguments, logging and signals. */
import { join } from 'node:path';
import { readJson, type ClusterConfig } from '../cluster/config.ts';
import type { NodeConfig } from '../cluster/node-config.ts';
import { createLogger, type Logger } from '../runtime/logger.ts';
import { runUntilSignalled } from '../runtime/process-main.ts';

/** What a per-node process runs until its signal aborts. */
export type NodeProcess = (cluster: ClusterConfig, node: NodeConfig, log: Logger, signal: AbortSignal) => Promise<void>;

/**
 * Runs `body` for the node named by argv (`<cluster folder> <node name>`) until SIGTERM/SIGINT,
 * then exits 0; exits 1 if it fails and 2 on bad arguments.
 */
export function nodeProcessMain(component: string, body: NodeProcess): void {
  const [dir, nodeName] = process.argv.slice(2);
  const cluster = dir ? readJson<ClusterConfig>(join(dir, 'config.json')) : undefined;
  const node = cluster?.nodes?.find((n) => n.name === nodeName);
  if (!cluster || !node) {
    console.error(`usage: ${component}-main.ts <cluster folder> <node name>`);
    process.exit(2);
  }
  const log = createLogger({ fields: { component, node: node.name } });
  runUntilSignalled(component, log, (signal) => body(cluster, node, log, signal));
}
