/**
 * Clearing what an earlier agent left on the node, when asked (upstream's `clean-cilium-state` and
 * `clean-cilium-bpf-state`): the node's pinned maps and links, and with the full clean also the
 * agent's state folder (endpoint records, IPAM, service state, flow log). Without either, the next
 * agent reopens both and keeps enforcing across its restart.
 */
import { existsSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentPinRoot } from '../config/paths.ts';

/** What was removed. */
export interface CleanOutcome {
  pins: boolean;
  stateEntries: number;
}

/**
 * Removes node `nodeName`'s pins under `bpfRoot` and, with `all`, the contents of `stateDir` (the
 * folder stays: it is a host mount) except the paths in `keep` (the cgroup v2 mount point
 * /run/cilium/cgroupv2 lives below upstream's state folder).
 */
export function cleanAgentState(o: { nodeName: string; bpfRoot: string; stateDir: string; all: boolean; keep: string[] }): CleanOutcome {
  const pinRoot = agentPinRoot(o.bpfRoot, o.nodeName);
  const pins = existsSync(pinRoot);
  rmSync(pinRoot, { recursive: true, force: true });
  let stateEntries = 0;
  if (o.all && existsSync(o.stateDir)) {
    const keep = new Set(o.keep.filter((k) => existsSync(k)).map((k) => realpathSync(k)));
    for (const e of readdirSync(o.stateDir)) {
      const path = join(o.stateDir, e);
      if (keep.has(realpathSync(path))) continue;
      rmSync(path, { recursive: true, force: true });
      stateEntries++;
    }
  }
  return { pins, stateEntries };
}
