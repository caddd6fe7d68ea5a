/**
 * bench/l7/profile.ts (on demand, as root, on a running two-node cluster): where the server node's
 * HTTP proxy spends its time under bench/l7's load with the HTTP rule in place.
 * `--perf`: a system-wide `perf record` (software clock) during the load, then the proxy process's
 * samples split into its own code, its writes (with the kernel's delivery of what it writes to the
 * next socket, which runs in its context), its reads, epoll and the rest, and its top kernel
 * symbols. `--inspector`: the proxy's JavaScript CPU profile through its inspector (opened with
 * SIGUSR1 inside its network namespace, closed after), top functions by self time.
 *
 * `--new-connections`: the load opens a connection per request instead. `--agent`: the node's agent
 * is profiled instead of its proxy (what the proxy's flow records cost it).
 *
 * Usage: npx tsx bench/l7/profile.ts --cluster NAME (--perf | --inspector) [--seconds S] [--new-connections] [--agent]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HTTP_PODS, httpLoad, httpPolicy } from './http-load.ts';
import { benchCluster, withPodPair } from './pods.ts';

const { values: args } = parseArgs({ options: { cluster: { type: 'string' }, seconds: { type: 'string', default: '8' }, perf: { type: 'boolean' }, inspector: { type: 'boolean' }, 'new-connections': { type: 'boolean' }, agent: { type: 'boolean' } } });
if (!args.cluster || args.perf === args.inspector) throw new Error('usage: profile.ts --cluster NAME (--perf | --inspector) [--seconds S] [--new-connections] [--agent]');
const KEEP = !args['new-connections'];
const TARGET = args.agent ? 'agent' : 'proxy';
const SECONDS = Number(args.seconds);
const cluster = benchCluster(args.cluster);

/** The HTTP proxy process of `node` (a process agent's child or a pod's), by its pinned-map folder. */
function proxyPid(node: string): number {
  const out = execFileSync('pgrep', ['-f', `(proxy-main\\.ts|http-proxy\\.mjs).*--pin-root=\\S*/${node}( |$)`]).toString().trim();
  return Number(out.split('\n')[0]);
}

/** The agent of `node`: the parent of its proxy when the agent started it, else the agent process in the proxy's network namespace. */
function agentPid(node: string): number {
  const proxy = proxyPid(node);
  const parent = Number(readFileSync(`/proc/${proxy}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  if (readFileSync(`/proc/${parent}/cmdline`, 'utf8').includes('agent')) return parent;
  const netns = readlinkSync(`/proc/${proxy}/ns/net`);
  const agents = execFileSync('pgrep', ['-f', '(agent-main\\.ts|agent\\.mjs)']).toString().trim().split('\n').map(Number);
  const found = agents.find((pid) => readlinkSync(`/proc/${pid}/ns/net`) === netns);
  if (!found) throw new Error(`no agent found in the network namespace of ${node}'s proxy`);
  return found;
}

const run = (cmd: string, argv: string[]) => new Promise<void>((resolve, reject) => {
  spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] }).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
});

/** The inspector client, run in the proxy's network namespace: profiles for `secs` and writes the profile to `out`. */
const INSPECT = `
const [secs, out] = process.argv.slice(1);
(async () => {
  const [target] = await (await fetch('http://127.0.0.1:9229/json/list')).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  let id = 0; const waits = new Map();
  ws.onmessage = (e) => { const m = JSON.parse(e.data); if (waits.has(m.id)) { waits.get(m.id)(m.result); waits.delete(m.id); } };
  await new Promise((r) => (ws.onopen = r));
  const call = (method, params = {}) => new Promise((r) => { const i = ++id; waits.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
  await call('Profiler.enable'); await call('Profiler.setSamplingInterval', { interval: 100 }); await call('Profiler.start');
  await new Promise((r) => setTimeout(r, Number(secs) * 1000));
  const { profile } = await call('Profiler.stop');
  require('node:fs').writeFileSync(out, JSON.stringify(profile));
  await call('Runtime.evaluate', { expression: 'process._debugEnd()' });
  ws.close();
})();
`;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Top functions by self time of a V8 CPU profile. */
function printCpuProfile(p: CpuProfile): void {
  const byNode = new Map<number, number>();
  p.samples.forEach((s, i) => byNode.set(s, (byNode.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const t = byNode.get(n.id) ?? 0;
    total += t;
    const where = n.callFrame.url ? ` ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}` : '';
    const k = `${n.callFrame.functionName || '(anonymous)'}${where}`;
    self.set(k, (self.get(k) ?? 0) + t);
  }
  const idle = self.get('(idle)') ?? 0;
  console.log(`profiled ${(total / 1e6).toFixed(1)} s, busy ${((total - idle) / 1e6).toFixed(2)} s; self time, share of busy:`);
  for (const [k, v] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${(v / 1000).toFixed(1).padStart(9)} ms ${((100 * v) / (total - idle)).toFixed(1).padStart(5)}%  ${k}`);
  }
}

/** The proxy's perf samples by what it was doing, and its top leaf symbols. */
function printPerf(script: string): void {
  const stacks = script.split('\n\n').map((s) => s.split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(1).join(' '))).filter((s) => s.length > 0);
  const has = (st: string[], ...names: string[]) => st.some((f) => names.some((n) => f.startsWith(n)));
  const kinds = new Map<string, number>();
  const leaves = new Map<string, number>();
  const ownLeaves = new Map<string, number>();
  for (const st of stacks) {
    const kind = has(st, 'sock_write_iter', 'do_writev') ? (has(st, 'handle_softirqs') ? 'write: delivery to the next socket (softirq)' : 'write: sending')
      : has(st, 'sock_read_iter', 'tcp_recvmsg') ? 'read'
        : has(st, 'do_epoll_wait', '__x64_sys_epoll') ? 'epoll'
          : has(st, 'entry_SYSCALL_64') ? 'other system calls' : st[0]!.includes('[kernel.kallsyms]') ? 'kernel: interrupts, scheduling' : 'its own code (JavaScript, V8, libuv)';
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    const leaf = st[0]!.replace(/ \(\[kernel\.kallsyms\]\)$/, ' [k]').replace(/ \(.*\)$/, '');
    leaves.set(leaf, (leaves.get(leaf) ?? 0) + 1);
    if (kind.startsWith('its own')) ownLeaves.set(leaf, (ownLeaves.get(leaf) ?? 0) + 1);
  }
  console.log(`${stacks.length} samples of the proxy:`);
  for (const [k, v] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`${((100 * v) / stacks.length).toFixed(1).padStart(6)}%  ${k}`);
  for (const [title, counts] of [['top leaf symbols', leaves], ['top leaf symbols of its own code', ownLeaves]] as const) {
    console.log(`${title}:`);
    for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${((100 * v) / stacks.length).toFixed(1).padStart(6)}%  ${k}`);
  }
}

await withPodPair(cluster, 'bench-l7p', HTTP_PODS, [], async ({ ns, client, server }) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-l7-profile-'));
  try {
    await cluster.kubectl(['apply', '-f', '-'], httpPolicy(ns, true));
    await new Promise((res) => setTimeout(res, 1500));
    await httpLoad(client, server.ip, 1, true); // warm-up, through the proxy
    const pid = TARGET === 'agent' ? agentPid(server.node) : proxyPid(server.node);
    const out = join(dir, args.perf ? 'perf.data' : 'proxy.cpuprofile');
    let profiling: Promise<void>;
    if (args.perf) profiling = run('perf', ['record', '-a', '-g', '-e', 'cpu-clock', '-F', '4999', '-o', out, '--', 'sleep', String(SECONDS - 2)]);
    else {
      process.kill(pid, 'SIGUSR1');
      await new Promise((res) => setTimeout(res, 500));
      profiling = run('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '--experimental-websocket', '-e', INSPECT, String(SECONDS - 2), out]);
    }
    const m = await httpLoad(client, server.ip, SECONDS, KEEP);
    await profiling;
    console.log(`${KEEP ? 'keep-alive' : 'new connections'} through the HTTP rule: ${Math.round(m.n / SECONDS)} requests/s, p50 ${Math.round(m.p50)} µs (${TARGET} pid ${pid})`);
    if (args.perf) printPerf(execFileSync('perf', ['script', '-i', out, '--pid', String(pid), '-F', 'comm,tid,ip,sym,dso'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    else printCpuProfile(JSON.parse(readFileSync(out, 'utf8')) as CpuProfile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
