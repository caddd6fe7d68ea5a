// Plumbing bench: time of agent/veth.ts plumb() (and unplumb()) for one pod, in all and before the call
// returns its promise (the part that holds the event loop), from a Node process that
// runs inside a throwaway node namespace, the way the agent does. The parent makes the node and pod
// namespaces, re-runs this file inside the node namespace, and deletes both whatever happens.
// Run: npx tsx bench/plumb/run.ts [count=20] [rssMb=0]   (rssMb grows the process first, like the agent)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { plumb, unplumb, hostIfName } from '../../agent/veth.ts';
import { fmt } from '../support/stats.ts';

const INSIDE = '--inside-node-netns';

/** Grows the process with live JS objects until its resident size reaches mb MiB (the agent is a large process). */
function ballast(mb: number): unknown[] {
  const keep: unknown[] = [];
  while (process.memoryUsage().rss < mb * 2 ** 20) keep.push(Array.from({ length: 8192 }, (_, j) => ({ j })));
  return keep;
}

/** Inside the node namespace: plumb and unplumb `count` endpoints into the pod namespace, one at a time. */
async function measure(podNetnsPath: string, count: number, heapMb: number): Promise<void> {
  const keep = ballast(heapMb);
  const ms = { plumb: [] as number[], plumbSync: [] as number[], unplumb: [] as number[], unplumbSync: [] as number[] };
  for (let i = 0; i < count + 2; i++) {
    const owner = `bench-${i}/eth0`;
    const t0 = performance.now();
    const plumbed = plumb({ owner, netnsPath: podNetnsPath, ifName: 'eth0', ip: `10.251.0.${10 + i}`, mtu: 1500 });
    const t1 = performance.now();
    await plumbed;
    const t2 = performance.now();
    const unplumbed = unplumb(hostIfName(owner));
    const t3 = performance.now();
    await unplumbed;
    const t4 = performance.now();
    if (i < 2) continue;
    ms.plumb.push(t2 - t0);
    ms.plumbSync.push(t1 - t0);
    ms.unplumb.push(t4 - t2);
    ms.unplumbSync.push(t3 - t2);
  }
  console.log(`rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB (${keep.length} ballast chunks)`);
  console.log(`plumb                       ${fmt(ms.plumb)}`);
  console.log(`  of it on the event loop   ${fmt(ms.plumbSync)}`);
  console.log(`unplumb                     ${fmt(ms.unplumb)}`);
  console.log(`  of it on the event loop   ${fmt(ms.unplumbSync)}`);
}

/** Makes the namespaces, runs measure() inside the node one, removes them. */
function main(count: number, heapMb: number): void {
  const suffix = randomBytes(3).toString('hex');
  const nodeNs = `cibench-n${suffix}`, podNs = `cibench-p${suffix}`;
  const ip = (...args: string[]) => spawnSync('ip', args, { stdio: 'inherit' });
  try {
    for (const ns of [nodeNs, podNs]) if (ip('netns', 'add', ns).status !== 0) throw new Error(`ip netns add ${ns} failed`);
    ip('-n', nodeNs, 'link', 'set', 'lo', 'up');
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync('nsenter', [`--net=/run/netns/${nodeNs}`, '--', process.execPath, ...process.execArgv, self, INSIDE, `/run/netns/${podNs}`, String(count), String(heapMb)], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  } finally {
    for (const ns of [podNs, nodeNs]) ip('netns', 'del', ns);
  }
}

if (process.argv[2] === INSIDE) await measure(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else main(Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 0));
