/**
 * bench/l7 DNS (run on demand, as root, on a running local cluster with real nodes): DNS queries per
 * second and p50/p99 latency from one client pod to a CoreDNS server pod on the other node, under
 * an L4-only egress policy (UDP 53 straight to the server) and under a `rules.dns` rule (every
 * query through the node's DNS proxy, which relays it, records the answer for toFQDNs and emits
 * the L7 flows). The generator (dnsq.c, one query outstanding) runs in the client pod's network
 * namespace. Before each measurement a name only the server knows, not the rule, shows which path
 * is in place: answered without the proxy, REFUSED through it. Rounds interleave; medians.
 *
 * Usage: npx tsx bench/l7/dns.ts --cluster NAME [--rounds R] [--seconds S]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PodEndpoint } from '../../cluster/pods.ts';
import { benchCluster, inPodNetns, median, withPodPair } from './pods.ts';

const { values: args } = parseArgs({ options: { cluster: { type: 'string' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } } });
if (!args.cluster) throw new Error('usage: dns.ts --cluster NAME [--rounds R] [--seconds S]');
const ROUNDS = Number(args.rounds), SECONDS = Number(args.seconds);
const cluster = benchCluster(args.cluster);
/** The name measured (the rule allows it) and the one that tells the paths apart (the rule refuses it). */
const NAME = 'bench.example', PROBE = 'probe.test';
const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.12.0';
const COREFILE = `.:53 {\n  hosts {\n    192.0.2.80 ${NAME}\n    192.0.2.81 ${PROBE}\n    ttl 60\n  }\n}\n`;

/** One generator run's outcome (latencies in µs). */
interface Run { answered: number; lost: number; failed: number; p50: number; p99: number }

/** Runs the generator from the client against `ip` for `seconds`. */
async function query(bin: string, client: PodEndpoint, ip: string, name: string, seconds: number): Promise<Run> {
  const [answered, lost, failed, p50, p99] = (await inPodNetns(client, [bin, ip, name, String(seconds)])).trim().split(' ').map(Number);
  return { answered: answered!, lost: lost!, failed: failed!, p50: p50!, p99: p99! };
}

const policy = (ns: string, dns: boolean) => JSON.stringify({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'bench-dns', namespace: ns },
  spec: {
    endpointSelector: { matchLabels: { app: 'client' } },
    egress: [{
      toEndpoints: [{ matchLabels: { app: 'server' } }],
      toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], ...(dns ? { rules: { dns: [{ matchPattern: '*.example' }] } } : {}) }],
    }],
  },
});

/** Applies the policy and waits until the probe name shows its path (answered: direct; refused: the proxy). */
async function applyPolicy(bin: string, ns: string, client: PodEndpoint, ip: string, dns: boolean): Promise<void> {
  const r = await cluster.kubectl(['apply', '-f', '-'], policy(ns, dns));
  if (r.code !== 0) throw new Error(`policy: ${r.stderr}`);
  for (let i = 0; i < 40; i++) {
    const p = await query(bin, client, ip, PROBE, 0.2);
    if (dns ? p.answered === 0 && p.failed > 0 : p.answered > 0) return;
  }
  throw new Error(`the ${dns ? 'DNS rule' : 'L4-only'} path never showed`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-l7-dns-'));
  try {
    const bin = join(dir, 'dnsq');
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(import.meta.dirname, 'dnsq.c')]);
    const specs = {
      client: { containers: [{ name: 'c', image: 'docker.io/library/busybox:1.35', command: ['sleep', '3600'] }] },
      server: {
        containers: [{ name: 's', image: COREDNS_IMAGE, args: ['-conf', '/etc/coredns/Corefile'], volumeMounts: [{ name: 'conf', mountPath: '/etc/coredns' }] }],
        volumes: [{ name: 'conf', configMap: { name: 'corefile' } }],
      },
    };
    const corefile = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'corefile' }, data: { Corefile: COREFILE } };
    await withPodPair(cluster, 'bench-dns', specs, [corefile], async ({ ns, client, server }) => {
      console.log(`load average before: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
      const results: Record<string, { qps: number[]; p50: number[]; p99: number[]; lost: number; failed: number }> = {};
      for (let r = 0; r < ROUNDS; r++) {
        for (const dns of [false, true]) {
          await applyPolicy(bin, ns, client, server.ip, dns);
          const m = await query(bin, client, server.ip, NAME, SECONDS);
          const k = dns ? 'rules.dns (DNS proxy)' : 'L4 only';
          const row = (results[k] ??= { qps: [], p50: [], p99: [], lost: 0, failed: 0 });
          row.qps.push(m.answered / SECONDS);
          row.p50.push(m.p50);
          row.p99.push(m.p99);
          row.lost += m.lost;
          row.failed += m.failed;
        }
      }
      console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
      console.log('| policy | queries/s | p50 µs | p99 µs | lost | failed |\n|---|---|---|---|---|---|');
      for (const [k, v] of Object.entries(results)) {
        console.log(`| ${k} | ${Math.round(median(v.qps))} | ${Math.round(median(v.p50))} | ${Math.round(median(v.p99))} | ${v.lost} | ${v.failed} |`);
      }
      const l4 = results['L4 only']!, proxied = results['rules.dns (DNS proxy)']!;
      console.log(`rules.dns / L4 only queries/s ${(median(proxied.qps) / median(l4.qps)).toFixed(2)}x, p50 added ${Math.round(median(proxied.p50) - median(l4.p50))} µs`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
