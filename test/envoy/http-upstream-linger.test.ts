// envoy-http-upstream-linger-timeout: how the HTTP proxy closes an upstream connection once its client
// connection is done. On loopback: the proxy's upstream connection is made from a fixed port derived
// from the client's (as the node's proxy makes it from the client's own port), to a raw backend that
// records how each connection ended; `ss` shows whose TIME_WAIT the connection left.
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { native, nativeAvailable } from '../../datapath/native.ts';
import { HttpPolicyStore } from '../../envoy/http/policy-store.ts';
import { HttpProxy } from '../../envoy/http/proxy.ts';
import { parseUpstreamLinger, UPSTREAM_LINGER_FLAG } from '../../envoy/http/upstream-close.ts';
import { httpProxyFlags, parseHttpProxyArgs } from '../../envoy/proxy-args.ts';
import { nopLogger } from '../../runtime/logger.ts';
import { expectConfigError } from '../support/config-error.ts';

const IDENTITY = 4242;
/** The upstream connection of a client from port p is made from p + this. */
const UP_OFFSET = 5000;
/** Each run's own ports, below the ephemeral range and apart from local clusters' (20000-22300): proxies, clients (their upstream ports UP_OFFSET above). */
const PROXY_BASE = 12000 + (process.pid % 250) * 8;
const CLIENT_BASE = 22400 + (process.pid % 500) * 5;

describe('envoy/http: the upstream linger timeout setting', () => {
  it('reads -1, 0 and seconds; anything else is refused naming the setting', () => {
    expect(['-1', '0', ' 30 '].map((t) => parseUpstreamLinger('x', t))).to.deep.equal([-1, 0, 30]);
    for (const bad of ['-2', '1.5', '5s', '', 'never', '99999999']) expectConfigError(() => parseUpstreamLinger('envoy-http-upstream-linger-timeout', bad), 'envoy-http-upstream-linger-timeout', /not -1/);
  });

  it('is a flag of the proxy process, -1 when not given, passed on as the agent starts it', () => {
    const base = ['--socket-path=/run/p.sock', '--pin-root=/sys/fs/bpf/x'];
    expect(parseHttpProxyArgs(base).upstreamLingerSeconds).to.equal(-1);
    const args = parseHttpProxyArgs([...base, `--${UPSTREAM_LINGER_FLAG}=0`]);
    expect(args).to.deep.equal({ socketPath: '/run/p.sock', pinRoot: '/sys/fs/bpf/x', debug: false, upstreamLingerSeconds: 0 });
    expect(parseHttpProxyArgs(httpProxyFlags(args))).to.deep.equal(args);
    expectConfigError(() => parseHttpProxyArgs([...base, `--${UPSTREAM_LINGER_FLAG}=soon`]), UPSTREAM_LINGER_FLAG, /"soon" is not -1/);
  });

  it('a bad value stops the proxy process with an error naming the flag', async () => {
    const main = fileURLToPath(new URL('../../envoy/proxy-main.ts', import.meta.url));
    const run = promisify(execFile)(process.execPath, [...process.execArgv, main, '--socket-path=/nonexistent/p.sock', '--pin-root=/nonexistent', `--${UPSTREAM_LINGER_FLAG}=-5`]);
    const err = await run.then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).to.equal(2);
    expect(err?.stderr).to.match(/invalid setting http-upstream-linger-timeout: "-5" is not -1/);
  });
});

describe('envoy/http: the proxy closing upstream connections on loopback', function () {
  /** How each backend connection ended, by its peer's port. */
  const ended = new Map<number, 'fin' | 'reset' | 'server'>();
  let backend: net.Server;
  let backendPort = 0;
  const proxies: HttpProxy[] = [];
  let next = 0;

  before(async function () {
    if (!nativeAvailable() || process.getuid?.() !== 0) this.skip();
    // Answers every request head; `/bye` is answered, then the backend closes first (as an idle keep-alive timeout would).
    backend = net.createServer((s) => {
      const peer = s.remotePort!;
      let text = '';
      s.on('data', (d) => {
        text += d;
        for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
          const bye = text.startsWith('GET /bye ');
          text = text.slice(end + 4);
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          if (bye) setTimeout(() => !ended.has(peer) && (ended.set(peer, 'server'), s.end()), 50);
        }
      });
      s.on('end', () => !ended.has(peer) && ended.set(peer, 'fin'));
      s.on('error', (err: NodeJS.ErrnoException) => !ended.has(peer) && ended.set(peer, err.code === 'ECONNRESET' ? 'reset' : 'fin'));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
    backendPort = (backend.address() as net.AddressInfo).port;
  });

  after(() => {
    for (const p of proxies) p.close();
    backend?.close();
  });

  /** A proxy with `linger` on its own port, forwarding everything to the backend from the client's port + UP_OFFSET. */
  async function proxyWith(linger: number): Promise<number> {
    const store = new HttpPolicyStore();
    store.apply({ endpointId: 1, version: 1, address: '127.0.0.1', rows: [{
      key: { direction: 'ingress', identity: IDENTITY, protocol: 6, port: 0, portPrefixLen: 0 },
      entry: { deny: false, proxyPort: 15000, redirect: { parser: 'http', rules: [], allowAll: true }, derivedFrom: [] },
    }] });
    const port = PROXY_BASE + 2 * proxies.length;
    const proxy = new HttpProxy({
      ingressPort: port, egressPort: port + 1, policies: store, identityOf: () => IDENTITY, log: nopLogger, upstreamLingerSeconds: linger,
      sockets: {
        listen: (p, mark) => native().transparentListen('127.0.0.1', p, 'tcp', mark),
        connect: (src) => new net.Socket({ fd: native().transparentConnect('127.0.0.1', src.port + UP_OFFSET, '127.0.0.1', backendPort, 0), readable: true, writable: true }),
      },
    });
    proxies.push(proxy);
    await proxy.start();
    return port;
  }

  /** A client on its own port: one request, its answer; then it closes (FIN, or RST with SO_LINGER 0). */
  async function request(proxyPort: number, clientPort: number, path: string, close: 'fin' | 'reset'): Promise<string> {
    const s = net.connect({ port: proxyPort, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: clientPort });
    let got = '';
    await new Promise<void>((resolve, reject) => {
      s.on('data', (d) => {
        got += d;
        if (got.endsWith('\r\n\r\nok') || /^HTTP\/1\.1 5\d\d [^]*\r\n\r\n[^]+/.test(got)) resolve();
      });
      s.on('error', reject);
      s.write(`GET ${path} HTTP/1.1\r\nHost: backend\r\n\r\n`);
    });
    if (close === 'reset') s.resetAndDestroy();
    else s.end();
    return got.slice(9, 12);
  }

  async function endOf(upstreamPort: number): Promise<string> {
    for (let i = 0; i < 200 && !ended.has(upstreamPort); i++) await new Promise((r) => setTimeout(r, 50));
    return ended.get(upstreamPort) ?? 'still open';
  }

  /**
   * The states of the proxy's sockets from `upstreamPort` to the backend (not the backend's own), once
   * the connection is through closing: only TIME-WAIT left, or nothing.
   */
  async function proxySocketsLeft(upstreamPort: number): Promise<string[]> {
    let states: string[] = [];
    for (let i = 0; i < 200; i++) {
      const out = execFileSync('ss', ['-Htan', 'sport', '=', `:${upstreamPort}`, 'and', 'dport', '=', `:${backendPort}`], { encoding: 'utf8' });
      states = out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]!);
      if (states.every((st) => st === 'TIME-WAIT')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return states;
  }

  /**
   * One request from `clientPort` through the proxy on `proxyPort`, the client closing as `close`:
   * its answer, how the backend saw the upstream connection end, the proxy's sockets left on it.
   */
  async function through(proxyPort: number, clientPort: number, path: string, close: 'fin' | 'reset') {
    const answer = await request(proxyPort, clientPort, path, close);
    const up = clientPort + UP_OFFSET;
    const result = { answer, end: await endOf(up), left: await proxySocketsLeft(up) };
    ended.delete(up);
    return result;
  }

  const clientPort = () => CLIENT_BASE + next++;

  it('-1 (the default): a finished upstream connection is closed by the proxy (FIN), leaving its TIME_WAIT on the client\'s port', async () => {
    const port = await proxyWith(-1);
    expect(await through(port, clientPort(), '/a', 'fin')).to.deep.equal({ answer: '200', end: 'fin', left: ['TIME-WAIT'] });
  });

  it('0: the upstream connection is reset as soon as the client is done: no TIME_WAIT, the port is free at once', async () => {
    const port = await proxyWith(0);
    expect(await through(port, clientPort(), '/a', 'fin')).to.deep.equal({ answer: '200', end: 'reset', left: [] });
    // A client that resets its connection and comes back from the same port.
    const again = clientPort();
    expect(await through(port, again, '/a', 'reset')).to.deep.equal({ answer: '200', end: 'reset', left: [] });
    expect(await through(port, again, '/b', 'reset')).to.deep.equal({ answer: '200', end: 'reset', left: [] });
  });

  it('N > 0: the server is given N s to close first; one that does not is reset, not sent a FIN', async () => {
    expect(await through(await proxyWith(1), clientPort(), '/a', 'fin')).to.deep.equal({ answer: '200', end: 'reset', left: [] });
    // The server closed first: the TIME_WAIT is the server's, not the proxy's.
    expect(await through(await proxyWith(60), clientPort(), '/bye', 'fin')).to.deep.equal({ answer: '200', end: 'server', left: [] });
  });

  it('a running proxy takes a new setting (the agent sends it on connecting) for the connections it lets go of next', async () => {
    const port = await proxyWith(-1);
    const proxy = proxies.at(-1)!;
    expect(await through(port, clientPort(), '/a', 'fin')).to.deep.include({ end: 'fin' });
    expect(proxy.setUpstreamLinger(0)).to.equal(true);
    expect(proxy.setUpstreamLinger(0), 'already in force').to.equal(false);
    expect(proxy.upstreamLingerSeconds).to.equal(0);
    expect(await through(port, clientPort(), '/a', 'fin')).to.deep.equal({ answer: '200', end: 'reset', left: [] });
  });
});
