/** Entry point of a node runner: `runner-main.ts <cluster folder> <node name>`, run inside the node's network namespace. */
import { join } from 'node:path';
import { readJson, type ClusterConfig } from '../cluster/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { runNode } from './runner.ts';

const [dir, nodeName] = process.argv.slice(2);
const node = dir ? readJson<ClusterConfig>(join(dir, 'config.json'))?.nodes?.find((n) => n.name === nodeName) : undefined;
if (!node) {
  console.error('usage: runner-main.ts <cluster folder> <node name>');
  process.exit(2);
}
const log = createLogger({ fields: { component: 'runner', node: node.name } });
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
process.on('SIGINT', () => stop.abort());
runNode(node, log, stop.signal).then(
  () => process.exit(0),
  (err: unknown) => {
    log.error('node runner failed', { err });
    process.exit(1);
  },
);
