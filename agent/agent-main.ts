/** Entry point of a node's agent: `agent-main.ts <cluster folder> <node name>`, run inside the node's network namespace. */
import { nodeProcessMain } from '../nodes/node-process.ts';
import { runAgent } from './agent.ts';

nodeProcessMain('agent', runAgent);
