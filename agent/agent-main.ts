/** Entry point of a node's agent: `agent-main.ts <cluster folder> <node name>`, run inside the node's network namespace. */
import { join } from 'node:path';
import { readJson, type ClusterConfig } from '../cluster/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { runAgent } from './agent.ts';

const [dir, nodeName] = process.argv.slice(2);
const cluster = dir ? readJson<ClusterConfig>(join(dir, 'config.json')) : undefined;
const node = cluster?.nodes?.find((n) => n.name === nodeName);
if (!cluster || !node) {
  console.error('usage: agent-main.ts <cluster folder> <node name>');
  process.exit(2);
}
const log = createLogger({ fields: { component: 'agent', node: node.name } });
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
process.on('SIGINT', () => stop.abort());
runAgent(cluster, node, log, stop.signal).then(
  () => process.exit(0),
  (err: unknown) => {
    log.error('agent failed', { err });
    process.exit(1);
  },
);
