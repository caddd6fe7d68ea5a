// L7 flows as the node's HTTP proxy records them, for the Hubble filter tests.
import { toHttpFlow } from '../../agent/http-flow.ts';
import type { HttpFlowRecord } from '../../envoy/http/proxy.ts';
import type { Flow } from '../../hubble/flow-types.ts';

/** Requests and responses as the HTTP proxy records them: three methods, three paths, allowed and denied. */
export function httpFlows(): Flow[] {
  const out: Flow[] = [];
  const requests: [string, string, boolean, number][] = [
    ['POST', '/v1/request-landing', true, 200], ['PUT', '/v1/exhaust-port', false, 403], ['GET', '/v1/', true, 200],
    ['GET', '/healthz', true, 503], ['POST', '/v2/board', true, 201],
  ];
  requests.forEach(([method, path, allowed, code], i) => {
    for (const type of ['request', 'response'] as const) {
      const r: HttpFlowRecord = {
        type, direction: 'ingress', source: { ip: '10.244.0.5', port: 40000 + i, identity: 1001 }, destination: { ip: '10.244.1.7', port: 80, identity: 1002 },
        method, url: `http://deathstar.${i % 2 ? 'default' : 'empire'}.svc.cluster.local${path}`, protocol: 'HTTP/1.1',
        headers: ['Host', 'deathstar', 'X-Team', i % 2 ? 'empire' : 'rebels'], verdict: allowed ? 'FORWARDED' : 'DROPPED',
        code: type === 'response' ? code : 0, latencyNs: type === 'response' ? 1_500_000n : 0n, time: new Date(Date.UTC(2026, 0, 1, 0, 0, i, type === 'response' ? 500 : 0)),
        origins: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'rule1', ruleIndex: 0 }], rule: allowed ? 0 : -1,
      };
      const ends = { client: { identity: 1001, namespace: 'default', pod_name: 'tiefighter', labels: [] }, server: { identity: 1002, namespace: 'default', pod_name: 'deathstar-0', labels: [] } };
      out.push(toHttpFlow(r, ends, { nodeName: 'node-a', proxyPort: 15000 }));
    }
  });
  return out;
}
