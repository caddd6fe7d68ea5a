// The ciliate-cni executables per the CNI specification, against a fake agent on a unix socket:
// VERSION, errors in the spec's format with a non-zero exit, and forwarding of ADD/CHECK/DEL/STATUS.
// The same suite runs against the TypeScript plugin (bin/ciliate-cni) and the native relay
// (build/cni/ciliate-cni), and a last suite checks that both print the same bytes and exit codes.
import { expect } from 'chai';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentRequest, AgentResponse } from '../../cni/protocol.ts';
import { runCommand } from '../support/cluster.ts';
import { fakeCniAgent } from '../support/fake-cni-agent.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TS_PLUGIN = join(ROOT, 'bin', 'ciliate-cni');
const RELAY = join(ROOT, 'build', 'cni', 'ciliate-cni');

/** A fake agent for the current suite, and a configuration naming its socket. */
function agentAndConf() {
  const agent = fakeCniAgent();
  const conf = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ cniVersion: '1.0.0', name: 'ciliate', type: 'ciliate-cni', socket: agent.socket, mtu: 1400, ...extra });
  return { agent, conf };
}

const env = (command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command, CNI_CONTAINERID: 'abc-123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1', ...extra,
});
const errorOf = (stdout: string) => JSON.parse(stdout) as { cniVersion: string; code: number; msg: string; details?: string };

for (const [name, PLUGIN] of [['TypeScript plugin', TS_PLUGIN], ['native relay', RELAY]] as const) {
  describe(`ciliate-cni ${name} (CNI spec)`, function () {
    this.timeout(30_000);
    const { agent, conf } = agentAndConf();
    const plugin = (e: Record<string, string>, stdin: string) => runCommand(PLUGIN, [], e, stdin);

    it('keeps the agent socket private to root (0600 in a 0700 folder)', () => {
      expect(statSync(agent.socket).mode & 0o777).to.equal(0o600);
      expect(statSync(dirname(agent.socket)).mode & 0o777).to.equal(0o700);
    });

    it('VERSION lists the supported versions without contacting the agent', async () => {
      const r = await plugin({ CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.0.0' }));
      expect(r.code).to.equal(0);
      expect(JSON.parse(r.stdout)).to.deep.equal({ cniVersion: '1.0.0', supportedVersions: ['1.0.0', '1.1.0'] });
      expect(agent.seen).to.have.length(0);
    });

    it('ADD forwards the environment and configuration and prints the result', async () => {
      const result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address: '10.244.0.2/32', interface: 0 }] };
      agent.answer = () => ({ ok: true, result });
      const r = await plugin(env('ADD'), conf());
      expect(r.code, r.stdout).to.equal(0);
      expect(JSON.parse(r.stdout)).to.deep.equal(result);
      expect(agent.seen[0]).to.include({ command: 'ADD', containerId: 'abc-123', netns: '/run/netns/x', ifName: 'eth0', cniVersion: '1.0.0', mtu: 1400 });
      expect(agent.seen[0]!.args).to.include({ K8S_POD_NAMESPACE: 'ns1', K8S_POD_NAME: 'p1' });
    });

    it('CHECK and DEL pass prevResult and print nothing on success; DEL needs no netns', async () => {
      const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.244.0.2/32' }] };
      const check = await plugin(env('CHECK'), conf({ prevResult }));
      expect(check).to.include({ code: 0, stdout: '' });
      const del = await plugin(env('DEL', { CNI_NETNS: '' }), conf({ prevResult }));
      expect(del).to.include({ code: 0, stdout: '' });
      expect(agent.seen.map((s) => s.command)).to.deep.equal(['CHECK', 'DEL']);
      expect(agent.seen[0]!.prevResult).to.deep.equal(prevResult);
    });

    it('CHECK without prevResult is an invalid configuration (code 7)', async () => {
      const r = await plugin(env('CHECK'), conf());
      expect(r.code).to.not.equal(0);
      expect(errorOf(r.stdout)).to.include({ cniVersion: '1.0.0', code: 7 });
    });

    it('STATUS succeeds when the agent does, and reports its error otherwise', async () => {
      expect(await plugin({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }))).to.include({ code: 0, stdout: '' });
      agent.answer = () => ({ ok: false, code: 50, msg: 'no pod CIDR yet' });
      const r = await plugin({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }));
      expect(r.code).to.not.equal(0);
      expect(errorOf(r.stdout)).to.deep.equal({ cniVersion: '1.1.0', code: 50, msg: 'no pod CIDR yet' });
    });

    it('passes agent errors through in the spec format with details', async () => {
      agent.answer = () => ({ ok: false, code: 11, msg: 'try later', details: 'IPAM busy' });
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
      expect(agent.seen).to.have.length(0);
    });

    it('reports an unreachable agent as plugin not available (code 50)', async () => {
      const r = await plugin(env('ADD'), conf({ socket: join(agent.dir, 'missing.sock') }));
      expect(r.code).to.equal(1);
      expect(errorOf(r.stdout).code).to.equal(50);
    });
  });
}

describe('ciliate-cni: the native relay and the TypeScript plugin agree', function () {
  this.timeout(60_000);
  const { agent, conf } = agentAndConf();

  it('print the same bytes and exit with the same code for every case', async () => {
    const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.244.0.2/32' }] };
    const result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address: '10.244.0.2/32', interface: 0 }] };
    const cases: [string, Record<string, string>, string, (req: AgentRequest) => AgentResponse][] = [
      ['VERSION', { CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.1.0' }), () => ({ ok: true })],
      ['no CNI_COMMAND', {}, conf(), () => ({ ok: true })],
      ['bad JSON', env('ADD'), '{"socket": "x", ', () => ({ ok: true })],
      ['JSON that is not an object', env('ADD'), '[1]', () => ({ ok: true })],
      ['missing socket', env('ADD'), conf({ socket: undefined }), () => ({ ok: true })],
      ['socket not a string', env('ADD'), conf({ socket: 7 }), () => ({ ok: true })],
      ['bad CNI_CONTAINERID', env('ADD', { CNI_CONTAINERID: '-bad/id' }), conf(), () => ({ ok: true })],
      ['missing CNI_CONTAINERID', env('DEL', { CNI_CONTAINERID: '' }), conf(), () => ({ ok: true })],
      ['bad CNI_IFNAME', env('ADD', { CNI_IFNAME: 'a-very-long-interface-name' }), conf(), () => ({ ok: true })],
      ['missing CNI_PATH', env('ADD', { CNI_PATH: '' }), conf(), () => ({ ok: true })],
      ['a newline in CNI_ARGS', env('ADD', { CNI_ARGS: 'A=1\nB=2' }), conf(), () => ({ ok: true, result })],
      ['unknown command', env('FROB'), conf(), () => ({ ok: true })],
      ['incompatible version', env('ADD'), conf({ cniVersion: '0.4.0' }), () => ({ ok: true })],
      ['bad mtu', env('ADD'), conf({ mtu: 10 }), () => ({ ok: true })],
      ['CHECK without prevResult', env('CHECK'), conf(), () => ({ ok: true })],
      ['agent unreachable', env('ADD'), conf({ socket: join(agent.dir, 'missing.sock') }), () => ({ ok: true })],
      ['ADD', env('ADD'), conf(), () => ({ ok: true, result })],
      ['ADD with unicode in the configuration', env('ADD'), conf({ name: 'ciliaté ☃', note: 'x"y\\z' }), () => ({ ok: true, result })],
      ['CHECK', env('CHECK'), conf({ prevResult }), () => ({ ok: true })],
      ['DEL without netns', env('DEL', { CNI_NETNS: '' }), conf({ prevResult }), () => ({ ok: true })],
      ['STATUS', { CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }), () => ({ ok: true })],
      ['agent error', env('ADD'), conf(), () => ({ ok: false, code: 11, msg: 'try later', details: 'IPAM busy' })],
      ['agent error on STATUS', { CNI_COMMAND: 'STATUS' }, conf(), () => ({ ok: false, code: 50, msg: 'no pod CIDR yet' })],
    ];
    for (const [what, e, stdin, answer] of cases) {
      agent.answer = answer;
      const ts = await runCommand(TS_PLUGIN, [], e, stdin);
      const relay = await runCommand(RELAY, [], e, stdin);
      expect({ code: relay.code, stdout: relay.stdout }, what).to.deep.equal({ code: ts.code, stdout: ts.stdout });
    }
  });
});
