// The native relay build/cni/ciliate-cni on the wire, against a recorder that stands in for the
// agent: the raw frame it sends, where its configuration scanner finds "socket", what it leaves to
// the TypeScript plugin (which then sends a JSON line), and its own errors once a frame is sent.
import { expect } from 'chai';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/cluster.ts';
import { SUPPORTED_VERSIONS } from '../../cni/spec.ts';

const RELAY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'cni', 'ciliate-cni');

/** One connection the recorder saw: a JSON request line (from the TypeScript plugin) or a raw frame. */
interface Seen {
  kind: 'json' | 'raw';
  bytes: Buffer;
}

describe('ciliate-cni native relay on the wire', function () {
  this.timeout(30_000);
  let dir: string;
  let socket: string;
  let server: Server;
  const seen: Seen[] = [];
  /** What the recorder answers a raw frame with; undefined: it closes without a word. */
  let rawReply: string | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cni-relay-'));
    socket = join(dir, 'agent.sock');
    server = createServer({ allowHalfOpen: true }, (conn) => {
      const chunks: Buffer[] = [];
      let done = false;
      conn.on('data', (d: Buffer) => {
        chunks.push(d);
        const bytes = Buffer.concat(chunks);
        if (!done && bytes[0] === 0x7b && bytes.includes(0x0a)) {
          done = true;
          seen.push({ kind: 'json', bytes });
          conn.end('{"ok":true}\n');
        }
      });
      conn.on('end', () => {
        if (done) return;
        seen.push({ kind: 'raw', bytes: Buffer.concat(chunks) });
        conn.end(rawReply ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    rawReply = '0\n';
  });

  const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'ciliate-cni', socket, ...extra });
  const relay = (env: Record<string, string>, stdin: string) => runCommand(RELAY, [], env, stdin);
  const status = (stdin: string) => relay({ CNI_COMMAND: 'STATUS' }, stdin);

  it('sends the CNI variables that are set and the configuration as one raw frame, and prints the answer with its code', async () => {
    rawReply = '3\nanything\nat all';
    const stdin = conf({ note: 'ünïcode' });
    const r = await relay({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/a:/b', CNI_ARGS: 'K=V;X=', OTHER: 'no' }, stdin);
    expect(r).to.include({ code: 3, stdout: 'anything\nat all' });
    expect(seen).to.have.length(1);
    expect(seen[0]!.kind).to.equal('raw');
    expect(seen[0]!.bytes.toString('utf8')).to.equal(
      'ciliate-cni-raw 1\nCNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/run/netns/p\nCNI_IFNAME=eth0\nCNI_ARGS=K=V;X=\nCNI_PATH=/a:/b\n\n' + stdin,
    );
    await status(conf());
    expect(seen[1]!.bytes.toString('utf8')).to.equal(`ciliate-cni-raw 1\nCNI_COMMAND=STATUS\n\n${conf()}`);
  });

  it('finds the top-level "socket" past nested values, strings holding brackets and quotes, whitespace and duplicates', async () => {
    const configs = [
      `{"cniVersion":"1.0.0","x":{"socket":"/nope","a":[1,{"b":"]}"},true,null,-1.5e3]},"s":"}\\"{","socket":"/nope","socket":"${socket}"}`,
      `\n {\t"socket" :\r\n "${socket}" , "name" : "n" }\n`,
      `{"socket":"${socket}","empty":{},"list":[]}`,
    ];
    for (const c of configs) {
      const r = await status(c);
      expect(r.code, c).to.equal(0);
      expect(seen.at(-1)?.kind, c).to.equal('raw');
    }
  });

  it('leaves configurations it cannot read exactly to the TypeScript plugin', async () => {
    const escapedKey = `{"cniVersion":"1.0.0","name":"n","sock\\u0065t":"${socket}"}`;
    const escapedValue = `{"cniVersion":"1.0.0","name":"n","socket":"${socket.replaceAll('/', '\\/')}"}`;
    for (const c of [escapedKey, escapedValue]) {
      const r = await status(c);
      expect(r, c).to.include({ code: 0, stdout: '' });
      expect(seen.at(-1)?.kind, c).to.equal('json');
    }
    seen.length = 0;
    for (const c of [`{"socket":"${socket}","socket":5}`, `${conf()} x`, `${conf()}}`, `{"socket":"${socket}",}`]) {
      const r = await status(c);
      expect(r.code, c).to.equal(1);
      expect(JSON.parse(r.stdout).code, c).to.be.oneOf([6, 7]);
    }
    expect(seen).to.deep.equal([]);
  });

  it('hands a configuration over 1 MiB whole to the TypeScript plugin', async () => {
    const pad = 'x'.repeat(1_200_000);
    const prevResult = { cniVersion: '1.0.0', pad };
    const r = await relay({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/a' }, conf({ prevResult }));
    expect(r).to.include({ code: 0, stdout: '' });
    expect(seen).to.have.length(1);
    expect(seen[0]!.kind).to.equal('json');
    expect((JSON.parse(seen[0]!.bytes.toString('utf8')) as { prevResult: { pad: string } }).prevResult.pad).to.equal(pad);
  });

  it('prints a spec error once a frame was sent and no readable answer came back', async () => {
    for (const reply of [undefined, 'x\n{}', '256\n', '0']) {
      rawReply = reply;
      const r = await status(conf({ cniVersion: '1.1.0' }));
      expect(r.code, String(reply)).to.equal(1);
      expect(JSON.parse(r.stdout), String(reply)).to.deep.equal({
        cniVersion: '1.1.0', code: 5, msg: 'the agent sent an unreadable answer', details: `socket ${socket}`,
      });
    }
    expect(seen.map((s) => s.kind)).to.deep.equal(['raw', 'raw', 'raw', 'raw']);
  });

  it('answers VERSION itself when installed alone (as the agent pod puts it into /opt/cni/bin)', async () => {
    const alone = join(dir, 'opt', 'cni', 'bin');
    await runCommand('mkdir', ['-p', alone]);
    copyFileSync(RELAY, join(alone, 'ciliate-cni'));
    const version = await runCommand(join(alone, 'ciliate-cni'), [], { CNI_COMMAND: 'VERSION' }, conf({ cniVersion: '1.1.0' }));
    expect(version.code).to.equal(0);
    expect(JSON.parse(version.stdout)).to.deep.equal({ cniVersion: '1.1.0', supportedVersions: [...SUPPORTED_VERSIONS] });
    const unreachable = await runCommand(join(alone, 'ciliate-cni'), [], { CNI_COMMAND: 'STATUS' }, conf({ socket: join(dir, 'absent.sock') }));
    expect(unreachable.code).to.equal(1);
    expect(JSON.parse(unreachable.stdout)).to.include({ code: 5 });
  });
});
