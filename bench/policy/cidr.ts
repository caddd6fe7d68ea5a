/**
 * CIDR policy benchmark (run on demand: `npx tsx bench/policy/cidr.ts`), on the agent's own path:
 *  1. Full computation with 10,000 pod identities and 1,000 rules of which a quarter name CIDR peers
 *     (toCIDRSet with except, fromCIDR): each policy's prefixes get node-local identities through the
 *     agent's CidrIdentities, as the agent's policy feed does, then the engine computes 100 endpoints.
 *     Baseline in the same run: the same rules with those peers selecting pods instead.
 *  2. The ipcache with 10,000 CIDR prefixes: identities allocated for them and their rows written into a
 *     real BPF LPM map (the agent's ipcache layout), against 10,000 pod /32 rows in the same kind of map.
 * Prints figures and ratios (goals: full computation < 1 s, heap < 100 MB).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CidrIdentities, cidrUseOf } from '../../agent/cidr-identities.ts';
import { loadEndpoint } from '../../datapath/loader.ts';
import { IPCACHE_CODECS, ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import type { LabelSet } from '../../identity/labels.ts';
import { reservedIdentities } from '../../identity/reserved-labels.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import type { EndpointInfo } from '../../policy/endpoint-policy.ts';
import { PolicyEngine } from '../../policy/engine.ts';
import { APPS, NAMESPACES, podIdentities, range } from './workload.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const RULES = 1000;
const LOCAL_ENDPOINTS = 100;
const PREFIXES = 10_000;

/** Rule `i`: every fourth names CIDR peers (when `cidr`), the others allow ingress from another app. */
function policy(i: number, cidr: boolean): unknown {
  const subject = { matchLabels: { app: `app${i % APPS}` } };
  const port = { ports: [{ port: String(8000 + (i % 50)), protocol: 'TCP' }] };
  const peer = { matchLabels: { app: `app${(i * 7) % APPS}` } };
  const spec = i % 4 !== 0 ? { endpointSelector: subject, ingress: [{ fromEndpoints: [peer], toPorts: [port] }] }
    : cidr ? {
      endpointSelector: subject,
      egress: [{ toCIDRSet: [{ cidr: `10.${i % 250}.0.0/16`, except: [`10.${i % 250}.${i % 200}.0/24`] }], toPorts: [port] }],
      ingress: [{ fromCIDR: [`172.16.${i % 250}.0/24`, `192.168.${i % 200}.${(i % 50) * 4}/30`], toPorts: [port] }],
    } : { endpointSelector: subject, egress: [{ toEndpoints: [peer], toPorts: [port] }], ingress: [{ fromEndpoints: [peer], toPorts: [port] }] };
  return { kind: 'CiliumNetworkPolicy', metadata: { name: `cnp${i}`, namespace: `ns${i % NAMESPACES}` }, specs: [spec] };
}

/** Full computation as the agent does it; returns wall ms, heap MB, CIDR identities and map entries. */
function fullComputation(cidr: boolean): { ms: number; heapMb: number; cidrIdentities: number; entries: number } {
  const parsed = range(RULES).map((i) => parsePolicy(policy(i, cidr)));
  const bad = parsed.find((p) => p.errors.length > 0);
  if (bad) throw new Error(`bench policy invalid: ${JSON.stringify(bad.errors)}`);
  const pods = podIdentities();
  const locals: EndpointInfo[] = range(LOCAL_ENDPOINTS).map((i) => {
    const [identity, labels] = pods[(i * 9973) % pods.length]!;
    return { id: i + 1, identity, labels, namedPorts: [] };
  });
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const cidrs = new CidrIdentities();
  const ids: [number, LabelSet][] = [...reservedIdentities().map(({ id, labels }): [number, LabelSet] => [id, labels]), ...pods];
  for (const p of parsed) for (const added of cidrs.setUse(`${p.namespace}/${p.name}`, cidrUseOf(p.rules)).added) ids.push([added.id, added.labels]);
  const engine = new PolicyEngine();
  engine.updateIdentities(ids);
  for (const p of parsed) engine.repository.upsert(p);
  for (const ep of locals) engine.upsertEndpoint(ep);
  const ms = performance.now() - t0;
  gc();
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 1024 / 1024;
  const entries = locals.reduce((n, ep) => n + engine.mapState(ep.id)!.size, 0);
  return { ms, heapMb, cidrIdentities: cidrs.all().length, entries };
}

/** Writes `rows` one by one (as the agent's sync does) into a fresh, unpinned ipcache LPM map; returns ms and the rows it then holds. */
function ipcacheWrite(rows: { prefix: string; identity: number }[]): { ms: number; held: number } {
  const ep = loadEndpoint({ endpointId: 1, identity: 1 }, { maxEntries: { cilium_ct4_global: 1024, cilium_drop_aggr: 1024 } });
  try {
    const t0 = performance.now();
    for (const r of rows) ep.maps.ipcache.update(...ipcacheEntry(r.prefix, r.identity));
    const ms = performance.now() - t0;
    return { ms, held: ep.maps.ipcache.entries().length };
  } finally {
    ep.close();
  }
}

function main(): void {
  console.log(`bench/policy/cidr: ${podIdentities().length} pod identities, ${RULES} rules (a quarter with CIDR peers), ${LOCAL_ENDPOINTS} endpoints`);
  const base = fullComputation(false);
  const withCidr = fullComputation(true);
  console.log(`full computation, pod peers only (baseline): ${base.ms.toFixed(0)} ms, heap ${base.heapMb.toFixed(1)} MB, ${base.entries} map entries`);
  console.log(`full computation, 1/4 CIDR rules:            ${withCidr.ms.toFixed(0)} ms, heap ${withCidr.heapMb.toFixed(1)} MB, ${withCidr.entries} map entries, ${withCidr.cidrIdentities} CIDR identities`);
  console.log(`  ratio to baseline ${(withCidr.ms / base.ms).toFixed(2)}x; goals: < 1000 ms (${(withCidr.ms / 1000).toFixed(2)}), heap < 100 MB (${(withCidr.heapMb / 100).toFixed(2)})`);

  const prefixes = range(PREFIXES).map((i) => `10.${Math.floor(i / 250) % 250}.${i % 250}.0/24`);
  const cidrs = new CidrIdentities();
  const t0 = performance.now();
  const added = cidrs.setUse('bench/many-cidrs', { prefixes, groups: [], groupSelectors: [] }).added;
  const allocMs = performance.now() - t0;
  const cidrRows = added.map((a) => ({ prefix: a.prefix, identity: a.id }));
  const podRows = range(PREFIXES).map((i) => ({ prefix: `10.244.${Math.floor(i / 250)}.${i % 250}/32`, identity: 256 + i }));
  const pod = ipcacheWrite(podRows);
  const cidr = ipcacheWrite(cidrRows);
  console.log(`${PREFIXES} CIDR prefixes: identities allocated in ${allocMs.toFixed(0)} ms (${added.length} identities)`);
  console.log(`ipcache write, ${podRows.length} pod /32 rows (baseline): ${pod.ms.toFixed(0)} ms, ${pod.held} rows held`);
  console.log(`ipcache write, ${cidrRows.length} CIDR /24 rows:          ${cidr.ms.toFixed(0)} ms, ${cidr.held} rows held (${(cidr.ms / pod.ms).toFixed(2)}x); key+value ${IPCACHE_CODECS.key.size + IPCACHE_CODECS.value.size} bytes a row, ${((cidr.held * (IPCACHE_CODECS.key.size + IPCACHE_CODECS.value.size)) / 1024).toFixed(0)} KiB of rows`);
}

main();
