// Unit tests of the operator's HTTP endpoints on loopback.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { healthRoutes, HttpEndpoint, metricsRoutes } from '../../operator/http.ts';
import { operatorMetrics } from '../../operator/metrics.ts';
import { nopLogger } from '../../runtime/index.ts';
import { httpGet } from './support.ts';

describe('operator/http', () => {
  it('serves 503 until synced, then 200 with the leadership state; metrics with upstream names; 404 elsewhere', async () => {
    let ready = false;
    const registry = new Registry();
    operatorMetrics(registry).ipamNodes.set({ category: 'total' }, 3);
    const routes = { ...healthRoutes({ ready: () => ready, leading: () => true }), ...metricsRoutes(registry) };
    const server = new HttpEndpoint('test', { host: '127.0.0.1', port: 0 }, routes, nopLogger);
    const stop = new AbortController();
    const running = server.start(stop.signal);
    try {
      const port = await server.bound;
      expect((await httpGet(port, '/healthz')).status).to.equal(503);
      ready = true;
      const health = await httpGet(port, '/healthz');
      expect(health.status).to.equal(200);
      expect(JSON.parse(health.body)).to.deep.equal({ status: 'ok', leader: true });
      expect((await httpGet(port, '/metrics')).body).to.contain('cilium_operator_ipam_nodes{category="total"} 3');
      expect((await httpGet(port, '/nope')).status).to.equal(404);
    } finally {
      stop.abort();
      await running;
    }
  });
});
