/**
 * The bench's Services: selector-less ClusterIP Services `svc-<i>`, each with one EndpointSlice the
 * bench writes naming the server's address as a ready endpoint. At 10,000 that is much faster than
 * waiting on the controller manager's rate-limited endpointslice controller, and the endpoint stays
 * ready whatever the node's status (a busy agent can make the node runner report NotReady, and the
 * controller manager would then mark the pod's endpoints not ready). `svc-0` is the measured one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { statusCodeOf } from '../../runtime/api-errors.ts';
import type { KubeRequest, KubeRequester } from '../../runtime/kube-request.ts';
import { BENCH_NS, SERVER_PORT } from './ciliate-side.ts';

/** The Services' port (each maps it to the server's {@link SERVER_PORT}). */
export const SERVICE_PORT = 80;

/**
 * `request` retried on what a busy apiserver may answer for a moment (a dropped connection, 429, 5xx)
 * up to 6 times with growing pauses. A create that already happened (409 on a retry) counts as done.
 */
async function insist(request: KubeRequester, req: KubeRequest): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request(req);
    } catch (err) {
      const code = statusCodeOf(err);
      if (attempt > 1 && code === 409 && req.method === 'POST') return undefined;
      if (attempt >= 6 || (code !== undefined && code !== 429 && code < 500)) throw err;
      await sleep(200 * 2 ** attempt);
    }
  }
}

/** Creates Services `svc-<from>`.. `svc-<from+count-1>`, each with a slice to `backendIp`; returns their ClusterIPs. */
export async function createServices(request: KubeRequester, from: number, count: number, backendIp: string, onProgress: (done: number) => void = () => undefined, concurrency = 32): Promise<string[]> {
  const ips: string[] = [];
  let next = from, done = 0;
  const worker = async (): Promise<void> => {
    while (next < from + count) {
      const name = `svc-${next++}`;
      const services = `/api/v1/namespaces/${BENCH_NS}/services`;
      const created = await insist(request, {
        method: 'POST', path: services,
        body: { metadata: { name }, spec: { ports: [{ port: SERVICE_PORT, targetPort: SERVER_PORT, protocol: 'TCP' }] } },
      }) ?? await insist(request, { method: 'GET', path: `${services}/${name}` });
      ips.push((created as { spec: { clusterIP: string } }).spec.clusterIP);
      await insist(request, {
        method: 'POST', path: `/apis/discovery.k8s.io/v1/namespaces/${BENCH_NS}/endpointslices`,
        body: {
          metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'svcbench' } },
          addressType: 'IPv4',
          ports: [{ name: '', port: SERVER_PORT, protocol: 'TCP' }],
          endpoints: [{ addresses: [backendIp], conditions: { ready: true } }],
        },
      });
      if (++done % 1000 === 0) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ips;
}

/**
 * Polls `present()` until it holds every one of `want`; returns the seconds it took. Reports progress
 * every 10 s through `onProgress`; throws after `timeoutS`.
 */
export async function waitForAll(label: string, want: readonly string[], present: () => Promise<Set<string>> | Set<string>, onProgress: (line: string) => void, timeoutS = 3600): Promise<number> {
  const t0 = performance.now();
  let lastReport = t0;
  for (;;) {
    const have = await present();
    const missing = want.filter((ip) => !have.has(ip)).length;
    const elapsed = (performance.now() - t0) / 1000;
    if (missing === 0) return elapsed;
    if (elapsed > timeoutS) throw new Error(`${label}: ${missing} of ${want.length} services still missing after ${timeoutS} s`);
    if (performance.now() - lastReport > 10_000) {
      onProgress(`${label}: ${want.length - missing}/${want.length} services after ${elapsed.toFixed(0)} s`);
      lastReport = performance.now();
    }
    await sleep(500);
  }
}
