// The ciliate-cni executable per the CNI specification, against a fake agent on a unix socket:
// VERSION, errors in the spec's format with a non-zero exit, and forwarding of ADD/CHECK/DEL/STATUS.
import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:net';
import { serveCni } from '../../agent/cni-server.ts';
import type { AgentRequest, AgentResponse } from '../../cni/protocol.ts';
import { runCommand } from '../support/cluster.ts';

const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'ciliate-cni');

describe('ciliate-cni plugin (CNI spec)', function () {
  this.timeout(30_000);
  let dir: string;
  let socket: string;
  let server: Server;
  const seen: AgentRequest[] = [];
  let answer: (req: AgentRequest) => AgentResponse = () => ({ ok: true });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cni-'));
    socket = join(dir, 'run', 'agent.sock');
    server = await serveCni(socket, async (req) => {
      seen.push(req);
      return answer(req);
    });
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    answer = () => ({ ok: true });
  });

  const conf = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ cniVersion: '1.0.0', name: 'ciliate', type: 'ciliate-cni', socket, mtu: 1400, ...extra });
  const env = (command: string, extra: Record<string, string> = {}) => ({
    CNI_COMMAND: command, CNI_CONTAINERID: 'abc-123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1', ...extra,
  });
  const plugin = (e: Record<string, string>, stdin: string) => runCommand(PLUGIN, [], e, stdin);
  const errorOf = (stdout: string) => JSON.parse(stdout) as { cniVersion: string; code: number; msg: string; details?: string };

  it('keeps the agent socket private to root (0600 in a 0700 folder)', () => {
    expect(statSync(socket).mode & 0o777).to.equal(0o600);
    expect(statSync(dirname(socket)).mode & 0o777).to.equal(0o700);
  });

  it('VERSION lists the supported versions without contacting the agent', async () => {
    const r = await plugin({ CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.0.0' }));
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ cniVersion: '1.0.0', supportedVersions: ['1.0.0', '1.1.0'] });
    expect(seen).to.have.length(0);
  });

  it('ADD forwards the environment and configuration and prints the result', async () => {
    const result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address: '10.244.0.2/32', interface: 0 }] };
    answer = () => ({ ok: true, result });
    const r = await plugin(env('ADD'), conf());
    expect(r.code, r.stdout).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(result);
    expect(seen[0]).to.include({ command: 'ADD', containerId: 'abc-123', netns: '/run/netns/x', ifName: 'eth0', cniVersion: '1.0.0', mtu: 1400 });
    expect(seen[0]!.args).to.include({ K8S_POD_NAMESPACE: 'ns1', K8S_POD_NAME: 'p1' });
  });

  it('CHECK and DEL pass prevResult and print nothing on success; DEL needs no netns', async () => {
    const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.244.0.2/32' }] };
    const check = await plugin(env('CHECK'), conf({ prevResult }));
    expect(check).to.include({ code: 0, stdout: '' });
    const del = await plugin(env('DEL', { CNI_NETNS: '' }), conf({ prevResult }));
    expect(del).to.include({ code: 0, stdout: '' });
    expect(seen.map((s) => s.command)).to.deep.equal(['CHECK', 'DEL']);
    expect(seen[0]!.prevResult).to.deep.equal(prevResult);
  });

  it('CHECK without prevResult is an invalid configuration (code 7)', async () => {
    const r = await plugin(env('CHECK'), conf());
    expect(r.code).to.not.equal(0);
    expect(errorOf(r.stdout)).to.include({ cniVersion: '1.0.0', code: 7 });
  });

  it('STATUS succeeds when the agent does, and reports its error otherwise', async () => {
    expect(await plugin({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }))).to.include({ code: 0, stdout: '' });
    answer = () => ({ ok: false, code: 50, msg: 'no pod CIDR yet' });
    const r = await plugin({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }));
    expect(r.code).to.not.equal(0);
    expect(errorOf(r.stdout)).to.deep.equal({ cniVersion: '1.1.0', code: 50, msg: 'no pod CIDR yet' });
  });

  it('passes agent errors through in the spec format with details', async () => {
    answer = () => ({ ok: false, code: 11, msg: 'try later', details: 'IPAM busy' });
    const r = await plugin(env('ADD'), conf());
    expect(r.code).to.equal(1);
    expect(errorOf(r.stdout)).to.deep.equal({ cniVersion: '1.0.0', code: 11, msg: 'try later', details: 'IPAM busy' });
  });

  it('rejects bad input with the specification codes', async () => {
    const cases: [Record<string, string>, string, number][] = [
      [env('ADD'), conf({ cniVersion: '0.2.0' }), 1],
      [env('ADD', { CNI_CONTAINERID: '' }), conf(), 4],
      [env('ADD', { CNI_CONTAINERID: '-bad/id' }), conf(), 4],
      [env('ADD', { CNI_NETNS: '' }), conf(), 4],
      [env('ADD', { CNI_IFNAME: 'a-very-long-interface-name' }), conf(), 4],
      [env('ADD', { CNI_PATH: '' }), conf(), 4],
      [env('FROB'), conf(), 4],
      [env('ADD'), '{not json', 6],
      [env('ADD'), JSON.stringify({ cniVersion: '1.0.0' }), 7],
      [env('ADD'), conf({ socket: undefined }), 7],
      [env('ADD'), conf({ mtu: 10 }), 7],
    ];
    for (const [e, stdin, code] of cases) {
      const r = await plugin(e, stdin);
      expect(r.code, `${stdin} ${JSON.stringify(e)}`).to.equal(1);
      const body = errorOf(r.stdout);
      expect(body.code, body.msg).to.equal(code);
      expect(body.msg).to.be.a('string').and.not.empty;
      expect(body.cniVersion).to.be.a('string');
    }
    expect(seen).to.have.length(0);
  });

  it('reports an unreachable agent as plugin not available (code 50)', async () => {
    const r = await plugin(env('ADD'), conf({ socket: join(dir, 'missing.sock') }));
    expect(r.code).to.equal(1);
    expect(errorOf(r.stdout).code).to.equal(50);
  });
});
