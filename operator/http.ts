// The operator's health endpoint; the HTTP server itself is runtime/http-endpoint.ts.
import type { Route } from '../runtime/http-endpoint.ts';
export { HttpEndpoint, metricsRoutes } from '../runtime/http-endpoint.ts';

/** Health as reported by /healthz. */
export interface HealthState {
  /** Whether the caches have synced (the process is working). */
  ready(): boolean;
  /** Whether this replica currently leads. */
  leading(): boolean;
}

/** Routes serving health at /healthz (200 once synced, else 503) with the leadership state as JSON. */
export function healthRoutes(state: HealthState): Record<string, Route> {
  const health: Route = async () => {
    const ok = state.ready();
    return {
      status: ok ? 200 : 503,
      type: 'application/json',
      body: JSON.stringify({ status: ok ? 'ok' : 'starting', leader: state.leading() }) + '\n',
    };
  };
  return { '/healthz': health, '/healthz/': health };
}
