/**
 * The agent's health endpoint, which the chart's probes ask (upstream's `agent-health-port`, 9879,
 * on 127.0.0.1 of the node): `/healthz` answers 200 once the agent serves the CNI socket and its
 * caches are synced, else 503 with what it waits for; on a node the agent cannot set up, 503 with
 * why (agent/node-setup/unusable-node.ts). A port already taken (two agents in one
 * network namespace, as some tests run them) is logged and the agent runs on without it.
 */
import { HttpEndpoint, type Route } from '../../runtime/http-endpoint.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Runnable } from '../../runtime/manager.ts';

/** What the agent's health depends on. */
export interface HealthSources {
  /** Caches whose first sync readiness waits for. */
  caches: { hasSynced(): boolean }[];
  /** Why the agent cannot serve this node at all; set, /healthz always answers 503 with it. */
  failure?: string;
}

/** The routes of the health endpoint. */
export function healthRoutes(s: HealthSources): Record<string, Route> {
  const health: Route = async () => {
    if (s.failure !== undefined) return { status: 503, type: 'application/json', body: JSON.stringify({ status: 'failed', reason: s.failure }) + '\n' };
    const waiting = s.caches.filter((c) => !c.hasSynced()).length;
    const ok = waiting === 0;
    return { status: ok ? 200 : 503, type: 'application/json', body: JSON.stringify(ok ? { status: 'ok' } : { status: 'starting', waiting: `${waiting} caches not synced` }) + '\n' };
  };
  return { '/healthz': health, '/healthz/': health };
}

/** The health endpoint on 127.0.0.1:`port` as a runnable that never stops the agent; undefined when `port` is 0. */
export function healthEndpoint(port: number, s: HealthSources, log: Logger): Runnable | undefined {
  if (port === 0) return undefined;
  const endpoint = new HttpEndpoint('health', { host: '127.0.0.1', port }, healthRoutes(s), log);
  return {
    needLeaderElection: false,
    start: (signal) => endpoint.start(signal).catch((err: unknown) => log.warn('health endpoint not served', { port, error: (err as Error).message })),
  };
}
