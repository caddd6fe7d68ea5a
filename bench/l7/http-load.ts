/**
 * The HTTP benches' load (bench/l7/run.ts, bench/l7/profile.ts): an agnhost server and a client pod,
 * an ingress policy to the server's port that is L4-only or carries an HTTP rule (the node's proxy
 * then in the path), and a load loop run by Node inside the client pod's network namespace: one
 * request at a time per connection, on one connection or several.
 */
import { inPodNetns } from './pods.ts';

/** The server's port. */
export const HTTP_PORT = 8080;

/** The client and server pods. */
export const HTTP_PODS = {
  client: { containers: [{ name: 'c', image: 'docker.io/library/busybox:1.35', command: ['sleep', '3600'] }] },
  server: { containers: [{ name: 's', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', `--http-port=${HTTP_PORT}`] }] },
};

/** The load loop: `conns` connections (keep-alive) or loops of one (new connections), each one request at a time; prints {n, p50, p99} (µs). */
const LOAD = `
const http = require('node:http');
const [ip, port, secs, keep, conns] = process.argv.slice(1);
// A new connection per request says so (Connection: close), so the server closes first and holds
// the TIME_WAIT: an agent with a finite maxSockets would ask for keep-alive and then close first.
const agent = keep === '1' ? new http.Agent({ keepAlive: true, maxSockets: Number(conns) }) : false;
const lat = []; const end = Date.now() + Number(secs) * 1000;
const one = () => new Promise((res, rej) => {
  const t = process.hrtime.bigint();
  http.get({ host: ip, port: Number(port), path: '/echo?msg=x', agent }, (r) => {
    if (r.statusCode !== 200) return rej(new Error('status ' + r.statusCode));
    r.resume(); r.on('end', () => { lat.push(Number(process.hrtime.bigint() - t) / 1000); res(); });
  }).on('error', rej);
});
const loop = async () => { while (Date.now() < end) await one(); };
(async () => { await Promise.all(Array.from({ length: Number(conns) }, loop)); lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ n: lat.length, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)] })); if (agent) agent.destroy(); })();
`;

/** What one load run measured: requests, and p50 / p99 latency in µs. */
export interface LoadResult {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs the load loop for `seconds` in the client pod's network namespace, with keep-alive or a new connection per request, `conns` at a time. */
export async function httpLoad(pod: { netns: string; node: string }, ip: string, seconds: number, keep: boolean, conns = 1): Promise<LoadResult> {
  return JSON.parse(await inPodNetns(pod, [process.execPath, '-e', LOAD, ip, String(HTTP_PORT), String(seconds), keep ? '1' : '0', String(conns)])) as LoadResult;
}

/** The bench's policy in `ns`: the client may reach the server's port, L4-only or (`l7`) through an HTTP rule. */
export function httpPolicy(ns: string, l7: boolean): string {
  return JSON.stringify({
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'bench', namespace: ns },
    spec: {
      endpointSelector: { matchLabels: { app: 'server' } },
      ingress: [{
        fromEndpoints: [{ matchLabels: { app: 'client' } }],
        toPorts: [{ ports: [{ port: String(HTTP_PORT), protocol: 'TCP' }], ...(l7 ? { rules: { http: [{ method: 'GET', path: '/echo(\\?.*)?' }] } } : {}) }],
      }],
    },
  });
}
