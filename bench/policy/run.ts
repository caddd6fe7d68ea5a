/**
 * Policy benchmark (run on demand: `npx tsx bench/policy/run.ts`): 10,000 identities and 1,000
 * rules; full computation time and heap, and the latency of incremental updates when one pod
 * (identity) or one rule changes (BENCH_SAMPLES samples each, after a warm-up). The full computation
 * ends with every endpoint's map state and its first diff (checked to hold every entry). Prints
 * figures and their ratio to the goals; wall times on a shared machine are noisy, so cpu times are
 * printed too.
 */
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cidrIdentityLabels, parsePrefix } from '../../identity/cidr.ts';
import type { LabelSet } from '../../identity/labels.ts';
import { reservedIdentities } from '../../identity/reserved-labels.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { computeMapState } from '../../policy/compute.ts';
import { PolicyEngine } from '../../policy/engine.ts';
import type { EndpointInfo } from '../../policy/endpoint-policy.ts';
import { APPS, NAMESPACES, podIdentities, podIdentityLabels, prng, range, VERSIONS } from './workload.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const RULES = 1000;
const LOCAL_ENDPOINTS = 100;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1000);
const WARMUP = 50;

const rnd = prng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

function identities(): [number, LabelSet][] {
  const out: [number, LabelSet][] = [...reservedIdentities().map(({ id, labels }): [number, LabelSet] => [id, labels]), ...podIdentities()];
  for (const i of range(200)) out.push([(1 << 24) + 1 + i, cidrIdentityLabels(parsePrefix(`10.${i}.0.0/16`)!)]);
  return out;
}

/** One policy of a realistic mix: L3/L4 ingress, egress to CIDR/world/DNS, deny, L7, cluster scrape. */
function policy(i: number): unknown {
  const ns = `ns${i % NAMESPACES}`;
  const app = `app${Math.floor(rnd() * APPS)}`;
  const peerApp = `app${Math.floor(rnd() * APPS)}`;
  const port = String(pick([80, 443, 8080, 5432, 6379]));
  const kind = i % 10;
  const specs: unknown[] = [];
  const subject = { matchLabels: { app } };
  if (kind < 5) {
    specs.push({ endpointSelector: subject, ingress: [{ fromEndpoints: [{ matchLabels: { app: peerApp } }], toPorts: [{ ports: [{ port, protocol: 'TCP' }] }] }] });
  } else if (kind === 5) {
    specs.push({ endpointSelector: subject, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: [`10.${i % 200}.0.0/16`] }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }] });
  } else if (kind === 6) {
    specs.push({
      endpointSelector: subject,
      egress: [
        { toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }], toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }] },
        { toEntities: ['world'], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
      ],
    });
  } else if (kind === 7) {
    specs.push({ endpointSelector: subject, ingressDeny: [{ fromEndpoints: [{ matchLabels: { version: `v${i % VERSIONS}` } }] }] });
  } else if (kind === 8) {
    specs.push({ endpointSelector: subject, ingress: [{ fromEndpoints: [{ matchLabels: { app: peerApp } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/api/.*' }] } }] }] });
  } else {
    specs.push({ endpointSelector: subject, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.cilium.k8s.namespace.labels.env': 'prod', team: `t${i % 4}` } }], toPorts: [{ ports: [{ port: '9090', protocol: 'TCP' }] }] }] });
  }
  if (i % 100 === 99) {
    return { kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: `ccnp${i}` }, spec: { endpointSelector: { matchLabels: { app } }, ingress: [{ fromEntities: ['cluster'], toPorts: [{ ports: [{ port: '9100', protocol: 'TCP' }] }] }] } };
  }
  return { kind: 'CiliumNetworkPolicy', metadata: { name: `cnp${i}`, namespace: ns }, specs };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const cpuMs = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};
const mb = (b: number) => b / 1024 / 1024;

function main(): void {
  const ids = identities();
  const raw = range(RULES).map(policy);
  const tp = process.hrtime.bigint();
  const parsed = raw.map((p) => parsePolicy(p));
  const parseMs = ms(tp);
  const invalid = parsed.filter((p) => p.errors.length > 0);
  if (invalid.length > 0) throw new Error(`bench policies invalid: ${JSON.stringify(invalid[0]!.errors)}`);
  const locals: EndpointInfo[] = range(LOCAL_ENDPOINTS).map((i) => {
    const [identity, labels] = ids[reservedIdentities().length + Math.floor((i * 9973) % (NAMESPACES * APPS * VERSIONS))]!;
    return { id: i + 1, identity, labels, namedPorts: [] };
  });

  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const engine = new PolicyEngine();
  engine.updateIdentities(ids);
  const tIds = ms(t0);
  for (const p of parsed) engine.repository.upsert(p);
  let diffRows = 0;
  for (const ep of locals) diffRows += engine.upsertEndpoint(ep).added.length;
  const full = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  const fullCpu = (cpu.user + cpu.system) / 1000;
  gc();
  const heap = process.memoryUsage().heapUsed - heap0;
  const entries = locals.reduce((n, ep) => n + engine.mapState(ep.id)!.size, 0);
  if (diffRows !== entries) throw new Error(`the endpoints' first diffs hold ${diffRows} rows, their map states ${entries}`);
  const selectors = engine.selectorCache.selectorCount;

  const replicas: EndpointInfo[] = locals.map((ep, i) => ({ ...locals[i % 25]!, id: 1000 + ep.id }));
  const shared = new PolicyEngine();
  const tr = process.hrtime.bigint();
  shared.updateIdentities(ids);
  for (const p of parsed) shared.repository.upsert(p);
  for (const ep of replicas) shared.upsertEndpoint(ep);
  const replicaMs = ms(tr);

  const biggest = locals.reduce((a, b) => (engine.mapState(a.id)!.size >= engine.mapState(b.id)!.size ? a : b));
  const ts = process.hrtime.bigint();
  const single = computeMapState(biggest, engine.repository.rules(), ids);
  const singleMs = ms(ts);

  const podLat: number[] = [];
  const podCpu: number[] = [];
  const timed = (lat: number[], cpuLat: number[], f: () => void) => {
    const c0 = process.cpuUsage();
    const t = process.hrtime.bigint();
    f();
    lat.push(ms(t));
    cpuLat.push(cpuMs(c0));
  };
  for (const i of range(WARMUP + SAMPLES)) {
    const id = 70000 + i;
    const labels = podIdentityLabels(i % NAMESPACES, i % APPS, 100 + i);
    const [wall, cpu] = i < WARMUP ? [[], []] : [podLat, podCpu];
    timed(wall, cpu, () => engine.updateIdentities([[id, labels]]));
    timed(wall, cpu, () => engine.updateIdentities([], [id]));
  }

  const ruleLat: number[] = [];
  const ruleCpu: number[] = [];
  for (const i of range(WARMUP + SAMPLES)) {
    const idx = Math.floor(rnd() * RULES);
    const changed = structuredClone(raw[idx]) as { specs?: { ingress?: { toPorts?: { ports: { port: string }[] }[] }[] }[] };
    const ports = changed.specs?.[0]?.ingress?.[0]?.toPorts?.[0]?.ports;
    if (ports) ports[0]!.port = String(1000 + i);
    const res = parsePolicy(changed);
    timed(i < WARMUP ? [] : ruleLat, i < WARMUP ? [] : ruleCpu, () => engine.upsertPolicy(res));
  }

  const goals = { full: 1000, incremental: 5, memory: 100 };
  const line = (name: string, value: number, unit: string, goal: number) =>
    console.log(`${name.padEnd(34)} ${value.toFixed(2).padStart(10)} ${unit.padEnd(3)} goal ${goal} ${unit}  ratio ${(value / goal).toFixed(3)}`);
  console.log(`identities ${ids.length}, rules ${RULES} policies, local endpoints ${LOCAL_ENDPOINTS}, selectors ${selectors}, map entries ${entries}`);
  console.log(`  (identities into selector cache: ${tIds.toFixed(1)} ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cpus)`);
  console.log(`  (parsing and validating the ${RULES} policies: ${parseMs.toFixed(1)} ms, not included below)`);
  line('full computation (wall)', full, 'ms', goals.full);
  line('full computation (cpu, all threads)', fullCpu, 'ms', goals.full);
  line('heap after full computation', mb(heap), 'MB', goals.memory);
  console.log(`  (same, 100 endpoints as 4 replicas of 25 identities: ${replicaMs.toFixed(1)} ms, ${shared.computationCount} computations)`);
  console.log(`  (one endpoint from scratch, its own selector cache: ${singleMs.toFixed(1)} ms for ${single.size} entries)`);
  for (const [name, wall, cpu] of [['pod', podLat, podCpu], ['rule', ruleLat, ruleCpu]] as const) {
    line(`incremental ${name} change p50 (wall)`, percentile([...wall], 50), 'ms', goals.incremental);
    line(`incremental ${name} change p99 (wall)`, percentile([...wall], 99), 'ms', goals.incremental);
    line(`incremental ${name} change p99 (cpu)`, percentile([...cpu], 99), 'ms', goals.incremental);
    line(`incremental ${name} change max (cpu)`, Math.max(...cpu), 'ms', goals.incremental);
  }
}

main();
