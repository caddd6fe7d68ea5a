/**
 * bench/l7 (run on demand, as root, on a running local cluster with real nodes and process agents):
 * HTTP requests per second and p50/p99 latency between one client and one agnhost server pod on
 * different nodes, with keep-alive and with a new connection per request, under an L4-only ingress
 * policy and under an HTTP rule (the node's proxy in the path). The client is a Node process entered
 * into the client pod's network namespace; each measurement is interleaved, medians of the rounds.
 * A new connection per request asks for its close (`Connection: close`), so the server closes first
 * and the client's ports do not pile up in TIME_WAIT. One request at a time is the added latency's
 * measure; keep-alive over `--connections N` connections at once (default 8; 0: not measured)
 * keeps the two cores busy, so it measures what the proxy costs in CPU.
 *
 * Usage: npx tsx bench/l7/run.ts --cluster NAME [--rounds R] [--seconds S] [--connections N]
 */
import { parseArgs } from 'node:util';
import { HTTP_PODS, httpLoad, httpPolicy } from './http-load.ts';
import { benchCluster, median, withPodPair } from './pods.ts';

const { values: args } = parseArgs({ options: { cluster: { type: 'string' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '3' }, connections: { type: 'string', default: '8' } } });
if (!args.cluster) throw new Error('usage: run.ts --cluster NAME [--rounds R] [--seconds S] [--connections N]');
const NAME = args.cluster, ROUNDS = Number(args.rounds), SECONDS = Number(args.seconds), CONNS = Number(args.connections);
/** The measurements of a round: keep-alive on one connection and on CONNS, a new connection per request. */
const LOADS = [
  { label: 'keep-alive', keep: true, conns: 1 },
  ...(CONNS > 1 ? [{ label: `keep-alive ×${CONNS}`, keep: true, conns: CONNS }] : []),
  { label: 'new connections', keep: false, conns: 1 },
];
const cluster = benchCluster(NAME);

async function main(): Promise<void> {
  await withPodPair(cluster, 'bench-l7', HTTP_PODS, [], async ({ ns, client, server }) => {
    const results: Record<string, { n: number[]; p50: number[]; p99: number[] }> = {};
    await httpLoad(client, server.ip, SECONDS, true); // warm-up (no policy yet)
    for (let r = 0; r < ROUNDS; r++) {
      for (const l7 of [false, true]) {
        await cluster.kubectl(['apply', '-f', '-'], httpPolicy(ns, l7));
        await new Promise((res) => setTimeout(res, 1500));
        for (const load of LOADS) {
          const m = await httpLoad(client, server.ip, SECONDS, load.keep, load.conns);
          const k = `${l7 ? 'HTTP rule' : 'L4 only'} ${load.label}`;
          (results[k] ??= { n: [], p50: [], p99: [] }).n.push(m.n / SECONDS);
          results[k].p50.push(m.p50);
          results[k].p99.push(m.p99);
        }
      }
    }
    for (const [k, v] of Object.entries(results)) console.log(`${k}, each round: requests/s ${v.n.map(Math.round).join(' ')}; p50 µs ${v.p50.map(Math.round).join(' ')}`);
    console.log('| policy, connections | requests/s | p50 µs | p99 µs |\n|---|---|---|---|');
    for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${Math.round(median(v.n))} | ${Math.round(median(v.p50))} | ${Math.round(median(v.p99))} |`);
    for (const { label } of LOADS) {
      const l4 = results[`L4 only ${label}`]!, l7 = results[`HTTP rule ${label}`]!;
      console.log(`${label}: HTTP rule / L4 only requests/s ${(median(l7.n) / median(l4.n)).toFixed(2)}x, p50 added ${Math.round(median(l7.p50) - median(l4.p50))} µs`);
    }
  });
}

await main();
