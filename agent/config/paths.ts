/** Where the agent keeps its kernel state below `bpf-root`. */
import { join } from 'node:path';

/** The bpffs folder holding every node's pin folder. */
export function agentPinParent(bpfRoot: string): string {
  return join(bpfRoot, 'ciliate');
}

/**
 * The bpffs folder of a node's pinned maps and links. The node's name keeps agents that share one
 * BPF filesystem apart (the local cluster's nodes share the machine's).
 */
export function agentPinRoot(bpfRoot: string, nodeName: string): string {
  return join(agentPinParent(bpfRoot), nodeName);
}
