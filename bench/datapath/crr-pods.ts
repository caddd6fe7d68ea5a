// Connection rate (TCP_CRR) between two real pods of a one-node local cluster (kubelet + containerd),
// with the whole running agent (its bundle, as the image runs it, started by the cluster as the node's
// process) in each visibility setting: Hubble off; Hubble on (the ring and server, upstream's
// default); Hubble on with two `hubble observe --follow` clients on the agent's socket, one stopped;
// Hubble on with the local cluster's Hubble metrics. A CiliumNetworkPolicy admits the client on the
// server's port, so every connection makes policy-verdict, trace and close events at both pods. The
// agent is restarted with each setting (its `cilium-config` directory rewritten); the pods and their
// programs stay. Each measurement is paired with the runs of the bare veth path just before and after it: two
// plain veth namespaces routed by the same node namespace (its netfilter and sysctls), no programs.
// Agent CPU is the agent process's own CPU time (/proc) while the client runs; RSS after each block.
// Traffic cores: 2 (default) puts the client on core 0 and the servers on core 1, so every cycle the
// agent spends is taken from the traffic on a 2-core machine; 1 puts client and servers on core 0 and
// leaves core 1 to the agent and the node, as on a node with cores to spare.
// CRR_SETTINGS=0,1 measures only those settings (indexes into the list above); CRR_PROFILE=<dir>
// writes a V8 CPU profile of the agent over each setting's first run (bench/datapath/cpu-profile.ts).
// Run: npx tsx bench/datapath/crr-pods.ts [reps] [seconds] [traffic cores: 2|1]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfigDir, hubbleSocketPath, LOCAL_HUBBLE_METRICS } from '../../cluster/agent-launch.ts';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { readState } from '../../cluster/state.ts';
import { netnsPath } from '../../cluster/nodes.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { createTopology, nsExec, type Topology } from '../../test/datapath/support/netns.ts';
import { runCommand } from '../../test/support/cluster.ts';
import { ensureHubbleCli } from '../../test/support/hubble-cli.ts';
import { AGNHOST } from '../../test/support/hubble-pods.ts';
import { buildGenerator, runCrrClient, spawnCrrServer } from './crr-generator.ts';
import { median } from './tools.ts';

const PORT = 7777;
const NS = 'crr';
const TICKS_PER_S = 100;

/** One agent setting measured: the `cilium-config` keys it sets, and whether hubble followers run. */
interface Setting {
  name: string;
  config: Record<string, string>;
  followers?: boolean;
}

const HUBBLE_OFF = { 'enable-hubble': 'false', 'flow-log-path': '', 'hubble-metrics': '' };
const HUBBLE_ON = { 'enable-hubble': 'true', 'flow-log-path': '', 'hubble-metrics': '' };
const SETTINGS: Setting[] = [
  { name: 'ciliate agent, Hubble off', config: HUBBLE_OFF },
  { name: 'ciliate agent, Hubble on (ring + server)', config: HUBBLE_ON },
  { name: 'ciliate agent, Hubble on + 2 hubble followers (1 stopped)', config: HUBBLE_ON, followers: true },
  { name: 'ciliate agent, Hubble on + Hubble metrics', config: { ...HUBBLE_ON, 'hubble-metrics': LOCAL_HUBBLE_METRICS } },
];

/** The agent process of `node` as the cluster's supervisor records it (`root`: the bench's state root). */
function agentPid(c: RunningCluster, root: string, node: NodeConfig): number | undefined {
  return readState(clusterPaths(c.name, root).state)?.components[`agent-${node.name}`]?.pid;
}

/** CPU seconds (user + system, all threads) the process has used. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** Resident memory of the process in MiB. */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** Restarts the node's agent with `config` over its settings; resolves once its health endpoint answers. */
async function restartAgent(c: RunningCluster, root: string, node: NodeConfig, config: Record<string, string>): Promise<number> {
  for (const [key, value] of Object.entries(config)) writeFileSync(join(agentConfigDir(node), key), value);
  const old = agentPid(c, root, node);
  if (old) process.kill(old, 'SIGTERM');
  for (let i = 0; i < 600; i++) {
    const pid = agentPid(c, root, node);
    if (pid && pid !== old) {
      const r = await runCommand('nsenter', [`--net=${netnsPath(node.netns)}`, 'curl', '-sf', '-m', '1', 'http://127.0.0.1:9879/healthz']);
      if (r.code === 0) return pid;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the agent of ${node.name} did not come back`);
}

/** Opens the agent's inspector (SIGUSR1) and profiles it for `seconds` from its node's namespace; resolves to the top functions. */
async function profileAgent(pid: number, node: NodeConfig, out: string, seconds: number): Promise<string> {
  process.kill(pid, 'SIGUSR1');
  const r = await runCommand('nsenter', [`--net=${netnsPath(node.netns)}`, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'cpu-profile.ts'), String(seconds), out]);
  return r.code === 0 ? r.stdout : `profile failed: ${r.stderr}`;
}

/** Starts two `hubble observe --follow` clients on the node's socket; the second is stopped. */
async function followers(hubbleBin: string, socket: string): Promise<ChildProcess[]> {
  const env = { ...process.env, HUBBLE_CONFIG: '/dev/null' };
  const clients = [0, 1].map(() => spawn(hubbleBin, ['observe', '--follow', '-o', 'json', '--server', `unix://${socket}`], { stdio: 'ignore', env }));
  await new Promise((r) => setTimeout(r, 1000));
  clients[1]!.kill('SIGSTOP');
  return clients;
}

/** Creates the client and server pods on the node and the policy admitting the client; returns both endpoints. */
async function pods(c: RunningCluster, node: NodeConfig): Promise<{ client: PodEndpoint; server: PodEndpoint }> {
  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  };
  const pod = (name: string) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name } },
    spec: { nodeName: node.name, containers: [{ name: 'c', image: AGNHOST, args: ['pause'] }] },
  });
  const policy = {
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'crr', namespace: NS },
    spec: {
      endpointSelector: { matchLabels: { app: 'server' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: String(PORT), protocol: 'TCP' }] }] }],
    },
  };
  await kubectl(['create', 'namespace', NS]);
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('client'), pod('server'), policy] }));
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', 'pod/server', '--timeout=180s']);
  const eps = podEndpoints(c.config).filter((p) => p.namespace === NS);
  const find = (name: string) => eps.find((p) => p.name === name) ?? (() => { throw new Error(`no endpoint for ${name}`); })();
  return { client: find('client'), server: find('server') };
}

async function main(): Promise<void> {
  const reps = Number(process.argv[2] ?? 3), seconds = Number(process.argv[3] ?? 3);
  const serverCore = process.argv[4] === '1' ? 0 : 1;
  const dir = mkdtempSync(join(tmpdir(), 'ciliate-crr-pods-'));
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-bench-'));
  const name = `crr${process.pid % 10000}`;
  const hubbleBin = await ensureHubbleCli();
  const bin = buildGenerator(dir);
  let topo: Topology | undefined;
  const spawned: ChildProcess[] = [];
  const rows: Array<{ name: string; rate: number; bare: number; x: number; cpu: number; perConn: number; rss: number }> = [];
  try {
    console.error(`bringing up a one-node cluster "${name}" (real kubelet node, bundled agent)`);
    const c = await up({ name, stateRoot, nodes: 1, runtime: 'kubelet', bundled: true, quiet: true, ciliumConfig: HUBBLE_OFF });
    const node = c.config.nodes![0]!;
    // The baseline: two plain veth namespaces routed by the same node namespace, with no programs.
    topo = createTopology(node.netns);
    nsExec(topo.podA, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65535');
    spawned.push(spawnCrrServer(bin, `/run/netns/${topo.podB}`, topo.ipB, PORT, serverCore));
    const { client, server } = await pods(c, node);
    await runCommand('nsenter', [`--net=${client.netns}`, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65535']);
    spawned.push(spawnCrrServer(bin, server.netns, server.ip, PORT, serverCore));
    await new Promise((r) => setTimeout(r, 500));
    const only = process.env.CRR_SETTINGS?.split(',').map(Number);
    for (const [index, s] of SETTINGS.entries()) {
      if (only && !only.includes(index)) continue;
      const pid = await restartAgent(c, stateRoot, node, s.config);
      const clients = s.followers && hubbleBin ? await followers(hubbleBin, hubbleSocketPath(node)) : [];
      spawned.push(...clients);
      // Let the restarted agent settle (endpoints restored, informers synced) before measuring.
      await runCrrClient(bin, client.netns, server.ip, PORT, 2);
      const rate: number[] = [], bare: number[] = [], cpu: number[] = [], x: number[] = [], perConn: number[] = [];
      const runBare = () => runCrrClient(bin, `/run/netns/${topo!.podA}`, topo!.ipB, PORT, seconds);
      let bareBefore = await runBare();
      for (let rep = 0; rep < reps; rep++) {
        const profile = rep === 0 && process.env.CRR_PROFILE ? profileAgent(pid, node, join(process.env.CRR_PROFILE, `setting${index}.cpuprofile`), seconds) : undefined;
        const cpu0 = cpuSeconds(pid), t0 = performance.now();
        rate.push(await runCrrClient(bin, client.netns, server.ip, PORT, seconds));
        if (profile) console.error(await profile);
        cpu.push((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000));
        // Paired with the bare runs just before and just after it, so that a change of load weighs on both.
        const bareAfter = await runBare();
        bare.push((bareBefore + bareAfter) / 2);
        bareBefore = bareAfter;
        x.push(rate.at(-1)! / bare.at(-1)!);
        perConn.push(cpu.at(-1)! / rate.at(-1)!);
        console.error(`${s.name} rep ${rep + 1}: ${Math.round(rate.at(-1)!)} conn/s (bare ${Math.round(bare.at(-1)!)}, x ${x.at(-1)!.toFixed(2)}), agent CPU ${(cpu.at(-1)! * 100).toFixed(1)}%`);
      }
      for (const p of clients) {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      }
      rows.push({ name: s.name, rate: median(rate), bare: median(bare), x: median(x), cpu: median(cpu), perConn: median(perConn), rss: rssMiB(pid) });
    }
  } finally {
    for (const p of spawned) p.kill('SIGKILL');
    topo?.destroy();
    await down({ name, stateRoot, quiet: true }).catch((err: unknown) => console.error(err));
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateRoot, { recursive: true, force: true });
  }
  console.log(`\nTraffic on core${serverCore ? 's 0 (client) and 1 (servers)' : ' 0 (client and servers)'}. Medians of ${reps} runs of ${seconds} s per setting, each paired with the runs of the bare veth path through the same node just before and after it; x = median of`);
  console.log('the runs\' ratios to their bare rate. Agent CPU: % of one core, and scaled to 10,000 new connections/s; RSS after the block.\n');
  console.log('| agent setting | connections/s | bare veth | x | agent CPU | CPU at 10k conn/s | agent RSS |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${Math.round(r.rate).toLocaleString('en-US')} | ${Math.round(r.bare).toLocaleString('en-US')} | ${r.x.toFixed(2)} | `
      + `${(r.cpu * 100).toFixed(1)}% | ${(r.perConn * 100 * 10_000).toFixed(1)}% | ${r.rss.toFixed(0)} MiB |`);
  }
}

await main();
