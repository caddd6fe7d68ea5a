/** Entry point of a node runner: `runner-main.ts <cluster folder> <node name>`, run inside the node's network namespace. */
import { nodeProcessMain } from './node-process.ts';
import { runNode } from './runner.ts';

nodeProcessMain('runner', (_cluster, node, log, signal) => runNode(node, log, signal));
