/** `/healthz` of the agent: the kernel tables' rows by status and the rows in error, as JSON. */
import type { Route } from '../runtime/http-endpoint.ts';
import type { KernelTables } from './kernel-tables.ts';

/**
 * Serves `/healthz` (200 with `status: ok`, or `degraded` while rows are in error: the agent keeps
 * running and enforcing what the kernel holds, so a liveness probe must not restart it for that).
 */
export function kernelHealthRoutes(kernel: KernelTables): Record<string, Route> {
  const health: Route = async () => ({ status: 200, type: 'application/json', body: JSON.stringify(kernel.health(), null, 1) + '\n' });
  return { '/healthz': health };
}
