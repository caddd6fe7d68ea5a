/**
 * What the local cluster's agents know about their pods, read from their state folders: each pod's
 * address, network namespace and node, and each node's flow log. Used by `ciliate exec` and
 * `ciliate observe`, which need no API access.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRecord } from '../agent/flow-log.ts';
import { FLOW_LOG } from '../agent/flow-log.ts';
import { readJson, type ClusterConfig } from './config.ts';
import { clusterPaths } from './paths.ts';
import { agentStateDir } from './agent-launch.ts';

/** A pod's network endpoint on a node. */
export interface PodEndpoint {
  namespace: string;
  name: string;
  ip: string;
  netns: string;
  node: string;
}

/** The configuration of a running local cluster, or an error naming it. */
export function clusterConfig(name: string, stateRoot?: string): ClusterConfig {
  const config = readJson<ClusterConfig>(join(clusterPaths(name, stateRoot).dir, 'config.json'));
  if (!config) throw new Error(`cluster "${name}" is not running`);
  return config;
}

/** Every pod endpoint the cluster's agents have recorded. */
export function podEndpoints(config: ClusterConfig): PodEndpoint[] {
  return (config.nodes ?? []).flatMap((node) => {
    const dir = join(agentStateDir(node, config), 'endpoints');
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => {
      const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { podNamespace: string; podName: string; ip: string; netns: string };
      return { namespace: e.podNamespace, name: e.podName, ip: e.ip, netns: e.netns, node: node.name };
    });
  });
}

/** Every flow record of the cluster's nodes (oldest first). */
export function readFlows(config: ClusterConfig): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (const node of config.nodes ?? []) {
    for (const file of [`${FLOW_LOG}.1`, FLOW_LOG]) {
      const path = join(agentStateDir(node, config), file);
      if (!existsSync(path)) continue;
      for (const line of readFileSync(path, 'utf8').split('\n')) if (line) out.push(JSON.parse(line) as FlowRecord);
    }
  }
  return out.sort((a, b) => a.time.localeCompare(b.time));
}
