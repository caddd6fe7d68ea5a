/**
 * The agent and HTTP proxy processes of a local cluster's node (`--install process`): their pids,
 * and killing one until the cluster's supervisor (agent) or the agent (proxy) has started it again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentStateDir } from '../../cluster/agent-launch.ts';
import type { RunningCluster } from '../../cluster/cluster.ts';
import { alive, readState, type ComponentState } from '../../cluster/state.ts';
import { HTTP_PROXY_LOG } from '../../envoy/http/proxy-supervisor.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node `name` of the cluster. */
function nodeOf(c: RunningCluster, name: string) {
  return c.config.nodes!.find((n) => n.name === name)!;
}

/** The node's agent as the cluster's state records it. */
export function agentPid(c: RunningCluster, nodeName: string): ComponentState {
  return readState(join(c.config.dir, 'state.json'))!.components[`agent-${nodeName}`]!;
}

/** The last record with message `msg` in the log of `nodeName`'s proxies (in the agent's state dir); {} when none. */
export function lastProxyLog(c: RunningCluster, nodeName: string, msg: string): Record<string, unknown> & { pid?: number; ts?: string } {
  const lines = readFileSync(join(agentStateDir(nodeOf(c, nodeName)), HTTP_PROXY_LOG), 'utf8').split('\n').filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown> & { pid?: number; ts?: string };
}

/** The log record of the proxy that last said it listens on `nodeName`. */
export function lastProxyStart(c: RunningCluster, nodeName: string): Record<string, unknown> & { pid?: number } {
  return lastProxyLog(c, nodeName, 'http proxy listening');
}

/** The pid of the proxy that last said it listens on `nodeName`, if alive. */
export function proxyPid(c: RunningCluster, nodeName: string): number | undefined {
  const { pid } = lastProxyStart(c, nodeName);
  return alive(pid) ? pid : undefined;
}

/** SIGKILLs the node's agent and waits (up to 30 s) for the cluster's supervisor to run a new one; whether it did. */
export async function killAgent(c: RunningCluster, nodeName: string): Promise<boolean> {
  const before = agentPid(c, nodeName);
  process.kill(before.pid!, 'SIGKILL');
  for (let i = 0; i < 150; i++) {
    await sleep(200);
    const now = agentPid(c, nodeName);
    if (now.pid !== before.pid && alive(now.pid) && now.phase !== 'exited') return true;
  }
  return false;
}

/** SIGKILLs the node's proxy and waits (up to 20 s) for the agent to start another; its pid. */
export async function killProxy(c: RunningCluster, nodeName: string): Promise<number | undefined> {
  const old = proxyPid(c, nodeName);
  if (old !== undefined) process.kill(old, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    await sleep(200);
    const fresh = proxyPid(c, nodeName);
    if (fresh !== undefined && fresh !== old) return fresh;
  }
  return undefined;
}
