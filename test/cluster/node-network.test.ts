import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ALLOCATION_LOCK, withAllocationLock } from '../../cluster/alloc-lock.ts';
import { createNodeNetwork, deleteNodeNetwork, linkExists, type NodeNetwork } from '../../cluster/network.ts';
import { run } from '../../runtime/exec.ts';
import { slotPorts } from '../../cluster/ports.ts';
import { uniqueClusterName } from '../support/cluster.ts';

const CLUSTER_DIR = join(import.meta.dirname, '..', '..', 'cluster');

/** Runs module code in a separate Node process (with tsx) and returns it; its stdout is collected. */
function nodeProcess(code: string): { child: ChildProcess; stdout: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const stdout = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}: ${out}`))));
  });
  return { child, stdout };
}

/** createNodeNetwork(name) run by another process. */
async function createInOtherProcess(name: string): Promise<NodeNetwork> {
  const { stdout } = nodeProcess(`const m = await import(${JSON.stringify(join(CLUSTER_DIR, 'network.ts'))});
    console.log(JSON.stringify(await m.createNodeNetwork(${JSON.stringify(name)})));`);
  return JSON.parse(await stdout) as NodeNetwork;
}

/** The IPv4 addresses (with prefix length) on link `dev`. */
async function addressesOf(dev: string): Promise<string[]> {
  const [link] = JSON.parse(await run('ip', ['-j', '-4', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number }[] }[];
  return link!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
}

/** Whether another holder has the allocation lock now. */
async function lockHeldElsewhere(): Promise<boolean> {
  try {
    await run('flock', ['--nonblock', '--exclusive', ALLOCATION_LOCK, 'true']);
    return false;
  } catch {
    return true;
  }
}

describe('cluster node networks', function () {
  this.timeout(60_000);
  const names = Array.from({ length: 4 }, (_, i) => uniqueClusterName(`r${i}`));

  after(async () => {
    for (const name of names) await deleteNodeNetwork(name);
  });

  it('gives clusters created at the same time, in this and other processes, different /24s, bridge addresses and ports', async () => {
    const networks = await Promise.all(names.map((name, i) => (i % 2 ? createInOtherProcess(name) : createNodeNetwork(name))));

    const distinct = (values: unknown[]) => new Set(values.map((v) => JSON.stringify(v))).size;
    expect(distinct(networks.map((n) => n.cidr))).to.equal(names.length);
    expect(distinct(networks.map((n) => n.gateway))).to.equal(names.length);
    const ports = networks.flatMap((n) => Object.values(slotPorts(n.slot)));
    expect(distinct(ports)).to.equal(ports.length);
    for (const n of networks) expect(await addressesOf(n.bridge)).to.deep.equal([`${n.gateway}/24`]);

    for (const name of names) await deleteNodeNetwork(name);
    for (const n of networks) expect(await linkExists(n.bridge)).to.equal(false);
  });

  it('frees the allocation lock when its holder dies', async () => {
    const holder = nodeProcess(`const m = await import(${JSON.stringify(join(CLUSTER_DIR, 'alloc-lock.ts'))});
      await m.withAllocationLock(() => { console.log('held'); return new Promise(() => setInterval(() => undefined, 1000)); });`);
    const held = new Promise<void>((resolve) => holder.child.stdout!.on('data', (d: string) => d.includes('held') && resolve()));
    holder.stdout.catch(() => undefined);
    await held;
    expect(await lockHeldElsewhere()).to.equal(true);
    holder.child.kill('SIGKILL');
    expect(await withAllocationLock(async () => 'taken')).to.equal('taken');
  });
});
