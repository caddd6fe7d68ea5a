/**
 * bench/propagation: on a one-node local cluster with 100 pods,
 *  1. pod creation -> CNI ADD returning (the agent logs each endpoint just before ADD answers), with
 *     the scheduler's binding (a watch sees spec.nodeName) as the same-run baseline;
 *  2. `kubectl apply` of a policy -> the entry present in the kernel policy map of all 100 endpoints,
 *     read-your-writes: the agent's `GET /v1/policy/wait?revision=N` (what `ciliate policy wait`
 *     asks) answers once its kernel holds the policy's revision for every endpoint; the pinned maps
 *     are then read from here once as a cross-check (an endpoint without the entry is a violation).
 *     A plain watch on the apiserver (the floor every controller shares) is the same-run baseline.
 * Prints medians, p99 and ratios. Usage: npx tsx bench/propagation/run.ts [pods=100] [policies=30] [spacing-ms=20]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { agentStateDir } from '../../cluster/agent-launch.ts';
import { nodePinRoot } from '../../cluster/node-config.ts';
import { AGENT_API_SOCKET, policyRevisionOf, waitForPolicyRevision } from '../../agent/policy-api.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { POLICY_CODECS, policyEntries, type PolicyMap } from '../../datapath/maps/policy.ts';
import { kubeRequester } from '../../runtime/kube-request.ts';
import { withBenchCluster, runBench } from '../support/cluster.ts';
import { fmt, pct, sleep } from '../support/stats.ts';

const PODS = Number(process.argv[2] ?? 100);
const POLICIES = Number(process.argv[3] ?? 30);
/** Milliseconds between pod creations (20: a burst; a few hundred: each pod on its own). */
const SPACING = Number(process.argv[4] ?? 20);
const NS = 'bench';


async function main(): Promise<void> {
  await withBenchCluster('bp', (name) => `bench/propagation: cluster ${name}, 1 node, ${PODS} pods created ${SPACING} ms apart, ${POLICIES} policy applies`, async (cluster, name) => {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const request = kubeRequester(kc);
    await request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
    await sleep(1000); // the default ServiceAccount

    // 1. Pod creation -> CNI ADD returning; baseline: creation -> bound by the scheduler.
    const created = new Map<string, number>();
    const bound = new Map<string, number>();
    const watch = new Watch(kc);
    const podWatch = await watch.watch(`/api/v1/namespaces/${NS}/pods`, {}, (_t, pod: { metadata: { name: string }; spec?: { nodeName?: string } }) => {
      if (pod.spec?.nodeName && !bound.has(pod.metadata.name)) bound.set(pod.metadata.name, Date.now());
    }, () => undefined);
    for (let i = 0; i < PODS; i++) {
      const pod = `p${i}`;
      created.set(pod, Date.now());
      await request({
        method: 'POST', path: `/api/v1/namespaces/${NS}/pods`,
        body: { metadata: { name: pod, labels: { app: 'bench' } }, spec: { containers: [{ name: 'c', image: 'none', command: ['sleep', 'infinity'] }] } },
      });
      await sleep(SPACING);
    }
    const logOf = (component: string) => join(cluster.config.dir, 'logs', `${component}-${name}-n0.log`);
    const added = new Map<string, number>();
    /** Per log message, per pod: the phase timings it carries. */
    const phases = new Map<string, Map<string, Record<string, number>>>();
    const collect = (file: string, msg: string, onRecord?: (pod: string, ts: number) => void) => {
      const byPod = phases.get(msg) ?? new Map<string, Record<string, number>>();
      phases.set(msg, byPod);
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.includes(`"${msg}"`)) continue;
        const rec = JSON.parse(line) as { ts: string; pod: string; ms?: Record<string, number> };
        const pod = rec.pod.split('/')[1]!;
        if (!rec.pod.startsWith(`${NS}/`) || byPod.has(pod)) continue;
        byPod.set(pod, rec.ms ?? {});
        onRecord?.(pod, Date.parse(rec.ts));
      }
    };
    for (let t = 0; t < 300 && added.size < PODS; t++) {
      await sleep(500);
      collect(logOf('agent'), 'endpoint enforced', (pod, ts) => added.set(pod, ts));
    }
    collect(logOf('agent'), 'endpoint added');
    collect(logOf('runner'), 'pod sandbox ready');
    podWatch.abort();
    const addMs = [...added].map(([p, t]) => t - created.get(p)!);
    const bindMs = [...bound].map(([p, t]) => t - created.get(p)!);

    // 2. Policy apply -> entry in the kernel maps of every endpoint; baseline: a plain watch event.
    const pinRoot = nodePinRoot(name, `${name}-n0`);
    // The bench pods' endpoints (the agent also keeps spare endpoint slots, which no policy selects).
    const ceps = (await request({ method: 'GET', path: `/apis/cilium.io/v2/namespaces/${NS}/ciliumendpoints` })) as { items: { status?: { id?: number } }[] };
    const maps: PolicyMap[] = ceps.items.flatMap((c) => (c.status?.id ? [String(c.status.id).padStart(5, '0')] : [])).map((d) =>
      BpfMap.openPinned(join(pinRoot, 'endpoints', d, `cilium_policy_v2_${d}`), POLICY_CODECS.key, POLICY_CODECS.value));
    const cep = (await request({ method: 'GET', path: `/apis/cilium.io/v2/namespaces/${NS}/ciliumendpoints/p0` })) as { status: { identity: { id: number } } };
    const benchIdentity = cep.status.identity.id;
    const seen = new Map<string, number>();
    const cnpWatch = await watch.watch(`/apis/cilium.io/v2/namespaces/${NS}/ciliumnetworkpolicies`, {}, (_t, o: { metadata: { name: string } }) => {
      if (!seen.has(o.metadata.name)) seen.set(o.metadata.name, performance.now());
    }, () => undefined);
    const api = join(agentStateDir(cluster.config.nodes![0]!, cluster.config), AGENT_API_SOCKET);
    const watchMs: number[] = [];
    const allMs: number[] = [];
    let violations = 0;
    for (let i = 0; i < POLICIES; i++) {
      const port = 20000 + i;
      const policy = `pol${i}`;
      // This apply is the only policy change, so it is the agent's next revision.
      const revision = (await policyRevisionOf(api)) + 1;
      const t0 = performance.now();
      await request({
        method: 'POST', path: `/apis/cilium.io/v2/namespaces/${NS}/ciliumnetworkpolicies`,
        body: { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: policy },
          spec: { endpointSelector: { matchLabels: { app: 'bench' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'bench' } }], toPorts: [{ ports: [{ port: String(port), protocol: 'TCP' }] }] }] } },
      });
      const waited = await waitForPolicyRevision(api, revision, 10);
      allMs.push(performance.now() - t0);
      const [key] = policyEntries({ direction: 'ingress', identity: benchIdentity, protocol: 6, port, entryId: 1 })[0]!;
      violations += maps.filter((m) => m.lookup(key) === undefined).length + waited.failed.length;
      for (let w = 0; w < 100 && !seen.has(policy); w++) await sleep(1);
      watchMs.push((seen.get(policy) ?? NaN) - t0);
    }
    cnpWatch.abort();
    for (const m of maps) m.close();

    console.log('\npod creation -> CNI ADD returned (identity and policy in the kernel)');
    console.log(`  ciliate:                   ${fmt(addMs)}`);
    console.log(`  baseline, scheduler bound: ${fmt(bindMs)}`);
    console.log(`  ratio (p50):               ${(pct(addMs, 50) / pct(bindMs, 50)).toFixed(2)}x   goal: ADD p50 < 50 ms`);
    for (const [msg, who] of [['pod sandbox ready', 'runner'], ['endpoint added', 'agent, CNI'], ['endpoint enforced', 'agent, enforcer']] as const) {
      const byPod = [...(phases.get(msg)?.values() ?? [])];
      for (const phase of new Set(byPod.flatMap((m) => Object.keys(m)))) {
        console.log(`  ${`${who}, ${phase}`.padEnd(26)} ${fmt(byPod.map((m) => m[phase] ?? 0))}`);
      }
    }
    console.log(`\npolicy apply -> entry in the kernel policy maps (${maps.length} endpoints), the agent's policy wait`);
    console.log(`  all endpoints:             ${fmt(allMs)}`);
    console.log(`  cross-check: endpoints without the entry once the wait answered: ${violations}`);
    console.log(`  baseline, a plain watch:   ${fmt(watchMs)}`);
    console.log(`  ratio (p99, all/watch):    ${(pct(allMs, 99) / pct(watchMs, 99)).toFixed(2)}x   goal: policy p99 < 200 ms`);
    console.log(`  ciliate's share (all - watch, per apply): ${fmt(allMs.map((x, i) => x - watchMs[i]!))}`);
    console.log(`  each apply, all endpoints (ms): ${allMs.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`  each apply, plain watch (ms):   ${watchMs.map((x) => x.toFixed(0)).join(' ')}`);
  });
}

runBench(main);
