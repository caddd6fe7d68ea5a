// The contract the datapath and policy work plugs into: CNI ADD answers only after the agent's
// beforeAddReturns(endpoint) hook resolves (the veth already exists when it runs), and a rejecting
// hook fails the ADD and leaves nothing behind. Runs an endpoint server in a throwaway namespace and
// calls it through the native relay, as nodes do.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../runtime/exec.ts';
import { deleteNetns, netnsPath } from '../../cluster/nodes.ts';
import { podNetnsName } from '../../nodes/sandbox.ts';
import { hostIfName } from '../../agent/veth.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';
import { eventually, linksIn } from './helpers.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PLUGIN = join(HERE, '..', '..', 'build', 'cni', 'ciliate-cni');
const FIXTURE = join(HERE, 'fixtures', 'hooked-agent.ts');
const TSX = join(HERE, '..', '..', 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');

describe('endpoint hooks: ADD waits for beforeAddReturns', function () {
  this.timeout(60_000);
  const nodeNs = `${uniqueClusterName('h')}-n0`;
  const podNs = podNetnsName(nodeNs, 'hook-test');
  const containerId = 'hook-test';
  let dir: string;
  let agent: ChildProcess | undefined;

  const startAgent = async (mode: 'delay' | 'reject') => {
    agent = spawn('nsenter', [`--net=${netnsPath(nodeNs)}`, '--', process.execPath, '--import', TSX, FIXTURE, join(dir, 'agent.sock'), dir, mode, '10.250.0.0/24'], { stdio: 'inherit' });
    await eventually(() => existsSync(join(dir, 'agent.sock')), 'agent socket', 20_000);
  };
  const stopAgent = async () => {
    if (!agent) return;
    const exited = new Promise((r) => agent!.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
    agent = undefined;
    rmSync(join(dir, 'agent.sock'), { force: true });
  };
  const add = () => runCommand(PLUGIN, [], {
    CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: netnsPath(podNs), CNI_IFNAME: 'eth0', CNI_PATH: dirname(PLUGIN),
  }, JSON.stringify({ cniVersion: '1.0.0', name: 'hooks', type: 'ciliate-cni', socket: join(dir, 'agent.sock') }));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hooks-'));
    await run('ip', ['netns', 'add', nodeNs]);
    await run('ip', ['-n', nodeNs, 'link', 'set', 'lo', 'up']);
    await run('ip', ['netns', 'add', podNs]);
  });

  after(async () => {
    await stopAgent();
    await deleteNetns(podNs);
    await deleteNetns(nodeNs);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers ADD only after the hook resolved, with the veth already in place when it ran', async () => {
    await startAgent('delay');
    const t0 = Date.now();
    const r = await add();
    const answeredAt = Date.now();
    expect(r.code, r.stdout).to.equal(0);
    const hook = JSON.parse(readFileSync(join(dir, 'hook.json'), 'utf8')) as { endpoint: { ip: string; hostIf: string; containerId: string }; hostIfExisted: boolean; at: number };
    expect(hook.hostIfExisted).to.be.true;
    expect(hook.endpoint).to.include({ containerId, hostIf: hostIfName(`${containerId}/eth0`) });
    expect(hook.at).to.be.greaterThan(t0);
    expect(answeredAt - hook.at).to.be.at.least(1400);
    expect((JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address).to.equal(`${hook.endpoint.ip}/32`);
    await stopAgent();
  });

  it('fails ADD when the hook rejects, removing the veth and releasing the address', async () => {
    await startAgent('reject');
    const r = await add();
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stdout)).to.include({ cniVersion: '1.0.0', code: 101, msg: 'policy is not in the kernel' });
    expect((await linksIn(nodeNs)).filter((l) => l.startsWith('lxc'))).to.deep.equal([]);
    expect(await linksIn(podNs)).to.deep.equal(['lo']);
    const ipam = JSON.parse(readFileSync(join(dir, 'ipam.json'), 'utf8')) as { allocations: Record<string, string> };
    expect(ipam.allocations).to.deep.equal({});
    await stopAgent();
  });
});
