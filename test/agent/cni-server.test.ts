// The agent's CNI socket with both framings: JSON request lines (the TypeScript plugin) and raw
// frames (the native relay), whose plugin logic runs in the agent against its own handler.
import { expect } from 'chai';
import { connect } from 'node:net';
import { fakeCniAgent } from '../support/fake-cni-agent.ts';

/** Sends `pieces` one write at a time (a tick apart), half-closes when `end`, and resolves with all that came back. */
function exchange(socket: string, pieces: (string | Buffer)[], end: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let got = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => (got += d));
    conn.on('end', () => resolve(got));
    conn.on('error', reject);
    conn.on('connect', async () => {
      for (const p of pieces) {
        conn.write(p);
        await new Promise((r) => setTimeout(r, 5));
      }
      if (end) conn.end();
    });
  });
}

describe('agent CNI socket framings', function () {
  this.timeout(20_000);
  const agent = fakeCniAgent();
  const result = { cniVersion: '1.0.0', ips: [{ address: '10.244.0.2/32' }] };
  beforeEach(() => {
    agent.answer = (req) => (req.containerId === 'fails' ? { ok: false, code: 101, msg: 'no veth' } : { ok: true, result });
  });
  const send = (pieces: (string | Buffer)[], end: boolean) => exchange(agent.socket, pieces, end);
  const seen = agent.seen;

  const header = 'ciliate-cni-raw 1\nCNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/run/netns/p\nCNI_IFNAME=eth0\nCNI_PATH=/x\nCNI_ARGS=K8S_POD_NAME=p\n\n';
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'ciliate-cni', socket: '/nowhere/agent.sock', mtu: 1400 });

  it('runs a raw frame through the plugin logic with the agent\'s own handler, never the configured socket', async () => {
    const answer = await send(['cili', header.slice(4), conf], true);
    expect(answer).to.equal(`0\n${JSON.stringify(result)}\n`);
    expect(seen).to.have.length(1);
    expect(seen[0]).to.deep.equal({ command: 'ADD', containerId: 'c1', netns: '/run/netns/p', ifName: 'eth0', args: { K8S_POD_NAME: 'p' }, cniVersion: '1.0.0', mtu: 1400 });
  });

  it('answers raw frames with the plugin\'s errors: the handler\'s, validation, and undecodable frames', async () => {
    const handlerError = await send([header.replace('CNI_CONTAINERID=c1', 'CNI_CONTAINERID=fails'), conf], true);
    expect(handlerError).to.equal('1\n{"cniVersion":"1.0.0","code":101,"msg":"no veth"}\n');
    const invalid = await send([header.replace('CNI_IFNAME=eth0', 'CNI_IFNAME=a/b'), conf], true);
    expect(invalid).to.match(/^1\n\{"cniVersion":"1.0.0","code":4,/);
    const cut = await send(['ciliate-cni-raw 1\nCNI_COMMAND=ADD\n'], true);
    expect(cut).to.match(/^1\n\{"cniVersion":"1.0.0","code":6,"msg":"cannot decode the request"/);
    expect(seen.map((s) => s.containerId)).to.deep.equal(['fails']);
  });

  it('refuses a raw frame over 1 MiB without waiting for its end', async () => {
    const answer = await send([header, Buffer.alloc((1 << 20) + 1, 0x20)], false);
    expect(answer).to.equal('1\n{"cniVersion":"1.0.0","code":6,"msg":"request too large"}\n');
  });

  it('still answers JSON request lines, also when they come in pieces or are followed by a half-close', async () => {
    const req = JSON.stringify({ command: 'STATUS', containerId: '', netns: '', ifName: '', args: {}, cniVersion: '1.1.0' });
    expect(await send([req.slice(0, 5), req.slice(5) + '\n'], false)).to.equal(`{"ok":true,"result":${JSON.stringify(result)}}\n`);
    expect(await send([req + '\n'], true)).to.equal(`{"ok":true,"result":${JSON.stringify(result)}}\n`);
    expect(JSON.parse(await send(['{nope\n'], false))).to.include({ ok: false, code: 6 });
    expect(await send([req.slice(0, 10)], true)).to.equal('');
    expect(seen).to.have.length(2);
  });
});
