// The HTTP proxy on loopback: a backend, the proxy's transparent listener on 127.0.0.1, and raw
// client sockets, so keep-alive, pipelining and malformed input are exactly what the test writes.
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { native, nativeAvailable } from '../../datapath/native.ts';
import type { HttpRule } from '../../policy/api/model.ts';
import type { MapStateRow } from '../../policy/mapstate-types.ts';
import { nopLogger } from '../../runtime/logger.ts';
import { HttpPolicyStore } from '../../envoy/http/policy-store.ts';
import type { HttpExchange } from '../../envoy/http/exchange.ts';
import { exchangeRecords, REQUEST_PART, RESPONSE_PART, wireExchange } from '../../envoy/proxy-protocol.ts';
import { ACCESS_DENIED_BODY, HttpProxy, type HttpFlowRecord } from '../../envoy/http/proxy.ts';
import { compileHttpPolicy, decideHttp } from '../../envoy/http/rules.ts';
import { PROXY_NOTRACK_CHAINS } from '../../envoy/proxy-notrack.ts';
import { restoreInput } from '../../runtime/iptables-chains.ts';
import { checkProxyPort, tproxyRules } from '../../envoy/tproxy.ts';

const CLIENT_IDENTITY = 4242;

function row(http: HttpRule[], identity = CLIENT_IDENTITY, direction: 'ingress' | 'egress' = 'ingress', name = 'rule1'): MapStateRow {
  return {
    key: { direction, identity, protocol: 6, port: 0, portPrefixLen: 0 },
    entry: { deny: false, proxyPort: 15000, redirect: { parser: 'http', rules: [{ parser: 'http', http }], allowAll: false }, derivedFrom: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name, ruleIndex: 0 }] },
  };
}

/** Sends raw bytes and collects what comes back until the server has answered `responses` times or closed. */
function exchange(port: number, data: string, responses: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => {
      got += d;
      if ((got.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= responses && /\r\n\r\n[^]*$/.test(got) && bodiesComplete(got)) s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.write(data);
  });
}

function bodiesComplete(text: string): boolean {
  const parts = text.split(/(?=HTTP\/1\.1 \d{3})/);
  return parts.every((p) => {
    const m = /content-length: (\d+)/i.exec(p);
    const body = p.split('\r\n\r\n')[1] ?? '';
    return !m || Buffer.byteLength(body) >= Number(m[1]);
  });
}

/** The flow record the agent makes of one part of an exchange. */
const recordOf = (e: HttpExchange, part: number) => exchangeRecords(wireExchange(e, part))[0]!;

const req = (method: string, path: string, extra = '') => `${method} ${path} HTTP/1.1\r\nHost: deathstar\r\n${extra}Content-Length: 0\r\n\r\n`;

describe('envoy/http: rules', () => {
  it('match method, path and host as whole-value regular expressions, headers and headerMatches', () => {
    const p = compileHttpPolicy({ allowAll: false, rules: [{ parser: 'http', http: [
      { method: 'POST', path: '/v1/request-landing' },
      { method: 'GET', path: '/public/.*', host: 'deathstar(\\..*)?' },
      { headers: ['X-Token: secret', 'X-Present'] },
      { path: '/hm', headerMatches: [{ name: 'X-Team', value: 'empire', mismatch: 'REPLACE' }] },
    ] }] });
    const d = (method: string, path: string, headers: Record<string, string> = {}, host = 'deathstar') => decideHttp(p, { method, path, host, headers });
    expect(d('POST', '/v1/request-landing').allowed).to.equal(true);
    expect(d('POST', '/v1/request-landing/x').allowed, 'full match').to.equal(false);
    expect(d('PUT', '/v1/exhaust-port').allowed).to.equal(false);
    expect(d('GET', '/public/a').rule).to.equal(1);
    expect(d('GET', '/public/a', {}, 'other').allowed).to.equal(false);
    expect(d('DELETE', '/x', { 'x-token': 'secret', 'x-present': '' }).allowed).to.equal(true);
    expect(d('DELETE', '/x', { 'x-token': 'other', 'x-present': '' }).allowed).to.equal(false);
    expect(d('GET', '/hm', { 'x-team': 'rebels' })).to.deep.include({ allowed: true, actions: [{ action: 'REPLACE', name: 'x-team', value: 'empire' }] });
  });

  it('allows what any rule of any merged rule set allows', () => {
    const p = compileHttpPolicy({ allowAll: false, rules: [{ parser: 'http', http: [{ method: 'GET' }] }, { parser: 'http', http: [{ method: 'POST', path: '/a' }] }] });
    const d = (method: string, path: string) => decideHttp(p, { method, path, host: '', headers: {} }).allowed;
    expect([d('GET', '/x'), d('POST', '/a'), d('POST', '/b')]).to.deep.equal([true, true, false]);
    expect(decideHttp(compileHttpPolicy({ allowAll: true, rules: [{ parser: 'http', http: [{ method: 'GET' }] }] }), { method: 'PUT', path: '/', host: '', headers: {} }).allowed, 'an L4-only allow on the port').to.equal(true);
  });

  it('rejects an invalid regular expression naming the field', () => {
    expect(() => compileHttpPolicy({ allowAll: false, rules: [{ parser: 'http', http: [{ path: '/ok' }, { path: '(' }] }] })).to.throw(/rules\[0\]\.http\[1\]\.path: invalid regular expression/);
  });

  it('the store refuses an update that does not compile and keeps the previous version', () => {
    const store = new HttpPolicyStore();
    expect(store.apply({ endpointId: 1, version: 1, address: '10.0.0.1', rows: [row([{ path: '/a' }])] })).to.deep.equal({ version: 1 });
    const ack = store.apply({ endpointId: 1, version: 2, address: '10.0.0.1', rows: [row([{ method: '[' }])] });
    expect(ack.version).to.equal(1);
    expect(ack.error).to.match(/version 2: rules\[0\]\.http\[0\]\.method: invalid regular expression/);
    expect(store.lookup({ direction: 'ingress', endpoint: '10.0.0.1', remoteIdentity: CLIENT_IDENTITY, port: 80 })?.row?.key.identity).to.equal(CLIENT_IDENTITY);
  });
});

describe('envoy/http: the proxy on loopback', function () {
  let backend: http.Server;
  let backendPort = 0;
  let proxy: HttpProxy;
  let store: HttpPolicyStore;
  const flows: HttpFlowRecord[] = [];
  const port = 17000 + (process.pid % 2000);
  let failConnect = false;

  before(async function () {
    if (!nativeAvailable() || process.getuid?.() !== 0) this.skip();
    backend = http.createServer((r, res) => {
      r.resume();
      r.on('end', () => res.end(r.method === 'POST' ? 'Ship landed\n' : `backend ${r.method} ${r.url} team=${r.headers['x-team'] ?? ''}\n`));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
    backendPort = (backend.address() as net.AddressInfo).port;
    store = new HttpPolicyStore();
    store.apply({ endpointId: 1, version: 1, address: '127.0.0.1', rows: [row([{ method: 'POST', path: '/v1/request-landing' }, { method: 'GET', path: '/hm', headerMatches: [{ name: 'X-Team', value: 'empire', mismatch: 'ADD' }] }])] });
    proxy = new HttpProxy({
      ingressPort: port, egressPort: port + 1, policies: store, identityOf: () => CLIENT_IDENTITY, log: nopLogger,
      flows: { request: (e) => flows.push(recordOf(e, REQUEST_PART)), response: (e) => flows.push(recordOf(e, RESPONSE_PART)) },
      sockets: {
        listen: (p, mark) => native().transparentListen('127.0.0.1', p, 'tcp', mark),
        connect: () => {
          if (failConnect) throw new Error('EADDRINUSE: bind');
          return net.connect(backendPort, '127.0.0.1');
        },
      },
    });
    await proxy.start();
  });

  after(() => {
    proxy?.close();
    backend?.close();
  });

  it('forwards allowed requests and answers denied ones with 403 "Access denied", pipelined on one connection in order', async () => {
    const out = await exchange(port, req('POST', '/v1/request-landing') + req('PUT', '/v1/exhaust-port') + req('POST', '/v1/request-landing'), 3);
    const answers = out.split(/(?=HTTP\/1\.1 \d{3})/);
    expect(answers.map((a) => a.slice(9, 12))).to.deep.equal(['200', '403', '200']);
    expect(answers[0]).to.match(/Ship landed\n$/);
    expect(answers[1]!.split('\r\n\r\n')[1]).to.equal(ACCESS_DENIED_BODY);
    expect(answers[1]).to.match(/keep-alive/i);
    const mine = flows.slice(-6);
    // A request is recorded when decided, its response when complete (a denial is answered at once).
    expect(mine.filter((f) => f.type === 'request').map((f) => `${f.method} ${f.verdict}`)).to.deep.equal(['POST FORWARDED', 'PUT DROPPED', 'POST FORWARDED']);
    expect(mine.filter((f) => f.type === 'response').map((f) => `${f.method} ${f.code}`).sort()).to.deep.equal(['POST 200', 'POST 200', 'PUT 403']);
    expect(mine[0]).to.deep.include({ url: 'http://deathstar/v1/request-landing', rule: 0 });
    expect(mine[0]!.source.identity).to.equal(CLIENT_IDENTITY);
    expect(mine[0]!.origins.map((o) => o.name)).to.deep.equal(['rule1']);
  });

  it('applies headerMatches mismatch actions to the forwarded request', async () => {
    const out = await exchange(port, req('GET', '/hm', 'X-Team: rebels\r\n'), 1);
    expect(out).to.match(/backend GET \/hm team=rebels, empire\n$/);
  });

  it('applies a policy change to the next request on an open keep-alive connection', async () => {
    const s = net.connect(port, '127.0.0.1');
    const answers: string[] = [];
    s.on('data', (d) => answers.push(String(d)));
    const waitFor = async (n: number) => { while (answers.join('').split(/(?=HTTP\/1\.1 \d{3})/).filter(Boolean).length < n) await new Promise((r) => setTimeout(r, 10)); };
    s.write(req('PUT', '/v1/exhaust-port'));
    await waitFor(1);
    store.apply({ endpointId: 1, version: 2, address: '127.0.0.1', rows: [row([{ method: 'PUT' }])] });
    s.write(req('PUT', '/v1/exhaust-port'));
    await waitFor(2);
    s.destroy();
    expect(answers.join('').split(/(?=HTTP\/1\.1 \d{3})/).map((a) => a.slice(9, 12))).to.deep.equal(['403', '200']);
    store.apply({ endpointId: 1, version: 3, address: '127.0.0.1', rows: [row([{ method: 'POST', path: '/v1/request-landing' }])] });
  });

  it('judges a connection redirected under an HTTP rule by its port\'s plain allow or deny once the rule is gone', async () => {
    const s = net.connect(port, '127.0.0.1');
    const answers: string[] = [];
    s.on('data', (d) => answers.push(String(d)));
    const codes = () => answers.join('').split(/(?=HTTP\/1\.1 \d{3})/).filter(Boolean).map((a) => a.slice(9, 12));
    const send = async (r: string) => {
      const n = codes().length;
      s.write(r);
      while (codes().length === n) await new Promise((res) => setTimeout(res, 10));
    };
    await send(req('PUT', '/v1/exhaust-port'));
    // The policy became L4-only: the datapath would no longer redirect, but this connection still is.
    const l4 = row([], CLIENT_IDENTITY, 'ingress', 'l4-only');
    store.apply({ endpointId: 1, version: 4, address: '127.0.0.1', rows: [{ key: l4.key, entry: { deny: false, proxyPort: 0, derivedFrom: l4.entry.derivedFrom } }] });
    await send(req('PUT', '/v1/exhaust-port'));
    // Then a deny of the client.
    store.apply({ endpointId: 1, version: 5, address: '127.0.0.1', rows: [{ key: l4.key, entry: { deny: true, proxyPort: 0, derivedFrom: l4.entry.derivedFrom } }] });
    await send(req('PUT', '/v1/exhaust-port'));
    s.destroy();
    expect(codes()).to.deep.equal(['403', '200', '403']);
    const mine = flows.filter((f) => f.type === 'request').slice(-2);
    expect(mine.map((f) => `${f.verdict} ${f.origins.map((o) => o.name).join()}`)).to.deep.equal(['FORWARDED l4-only', 'DROPPED l4-only']);
    store.apply({ endpointId: 1, version: 6, address: '127.0.0.1', rows: [row([{ method: 'POST', path: '/v1/request-landing' }])] });
  });

  it('answers oversized headers with 431 while a slow client holds a half-sent request', async () => {
    const slow = net.connect(port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('POST /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\n');
    const before = proxy.stats.malformed;
    const big = await exchange(port, req('POST', '/v1/request-landing', `X-Big: ${'x'.repeat(20_000)}\r\n`), 1);
    expect(big).to.match(/^HTTP\/1\.1 431 /);
    expect(proxy.stats.malformed).to.equal(before + 1);
    expect(await exchange(port, req('POST', '/v1/request-landing'), 1)).to.match(/Ship landed\n$/);
    slow.destroy();
  });

  it('answers 503 when the upstream socket cannot even be made, and keeps serving', async () => {
    failConnect = true;
    const out = await exchange(port, req('POST', '/v1/request-landing'), 1);
    failConnect = false;
    expect(out).to.match(/^HTTP\/1\.1 503 /);
    expect(await exchange(port, req('POST', '/v1/request-landing'), 1)).to.match(/Ship landed\n$/);
  });

  it('judges an egress request to a pod of its node by that pod\'s ingress rules as well', async () => {
    // On loopback the client and the original destination are the same address: one endpoint with both rows.
    store.apply({ endpointId: 1, version: 5, address: '127.0.0.1', rows: [
      row([{ method: 'GET', path: '/v1/.*' }], CLIENT_IDENTITY, 'egress', 'client-egress'), row([{ method: 'GET', path: '/v1/' }], CLIENT_IDENTITY, 'ingress', 'server-ingress'),
    ] });
    const out = await exchange(port + 1, req('GET', '/v1/') + req('GET', '/v1/exhaust-port') + req('POST', '/v1/request-landing'), 3);
    expect(out.split(/(?=HTTP\/1\.1 \d{3})/).map((a) => a.slice(9, 12))).to.deep.equal(['200', '403', '403']);
    const requests = flows.slice(-6).filter((f) => f.type === 'request');
    expect(requests.map((f) => [f.direction, f.verdict, f.origins.map((o) => o.name).join('+')])).to.deep.equal([
      ['egress', 'FORWARDED', 'client-egress+server-ingress'], ['egress', 'DROPPED', 'server-ingress'], ['egress', 'DROPPED', 'client-egress'],
    ]);
  });

  it('answers malformed HTTP with 400 and counts it; an unknown client gets 403', async () => {
    const before = proxy.stats.malformed;
    const out = await exchange(port, 'NOT HTTP AT ALL\r\n\r\n', 1);
    expect(out).to.match(/^HTTP\/1\.1 400 Bad Request/);
    expect(proxy.stats.malformed).to.equal(before + 1);
    store.apply({ endpointId: 1, version: 4, address: '127.0.0.1', rows: [row([{ method: 'POST' }], 999)] });
    expect((await exchange(port, req('POST', '/v1/request-landing'), 1)).slice(9, 12)).to.equal('403');
  });
});

/** A body several times the proxy's buffers. */
const BIG = 3 << 20;

describe('envoy/http: messages through the proxy on loopback', function () {
  // The same proxy set-up as above, with every method but DELETE allowed.
  let backend: http.Server;
  let proxy: HttpProxy;
  const port = 19100 + (process.pid % 800);

  before(async function () {
    if (!nativeAvailable() || process.getuid?.() !== 0) this.skip();
    backend = http.createServer((r, res) => {
      let size = 0;
      r.on('data', (d: Buffer) => (size += d.length));
      r.on('end', () => {
        if (r.url === '/chunked') return void res.write('part1,', () => res.end('part2'));
        if (r.url === '/empty') return void res.writeHead(204).end();
        if (r.url === '/big') return void res.end(Buffer.alloc(BIG, 'a'));
        res.end(`got ${size}`);
      });
    });
    backend.on('upgrade', (_req, sock: net.Socket) => {
      sock.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
      sock.on('data', (d) => sock.write(d));
      sock.on('end', () => sock.end());
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
    const backendPort = (backend.address() as net.AddressInfo).port;
    const store = new HttpPolicyStore();
    store.apply({ endpointId: 1, version: 1, address: '127.0.0.1', rows: [row([{ method: 'GET|POST|PUT|HEAD' }])] });
    proxy = new HttpProxy({
      ingressPort: port, egressPort: port + 1, policies: store, identityOf: () => CLIENT_IDENTITY, log: nopLogger,
      sockets: { listen: (p, mark) => native().transparentListen('127.0.0.1', p, 'tcp', mark), connect: () => net.connect(backendPort, '127.0.0.1') },
    });
    await proxy.start();
  });

  after(() => {
    proxy?.close();
    backend?.close();
  });

  /**
   * Writes `parts` in turn (each after the answer text so far matches the RegExp before it), and
   * reads until the proxy closes; ends its side once a RegExp that comes last has matched.
   */
  function converse(...parts: (string | RegExp)[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      const next = () => {
        while (parts.length && typeof parts[0] === 'string') s.write(parts.shift() as string);
        if (parts.length && (parts[0] as RegExp).test(got)) {
          parts.shift();
          if (parts.length === 0) s.end();
          next();
        }
      };
      s.on('data', (d) => {
        got += d;
        next();
      });
      s.on('close', () => resolve(got));
      s.on('error', reject);
      next();
    });
  }

  it('relays chunked bodies both ways and answers without bodies (HEAD, 204), pipelined in order, then Connection: close', async () => {
    const out = await converse(
      'POST /size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n'
      + 'GET /chunked HTTP/1.1\r\nHost: x\r\n\r\nHEAD /size HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\nDELETE /size HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody'
      + 'PUT /size HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz' + 'GET /never HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const answers = out.split(/(?=HTTP\/1\.1 \d{3})/);
    expect(answers.map((a) => a.slice(9, 12))).to.deep.equal(['200', '200', '200', '204', '403', '200']);
    expect(answers[0]).to.match(/\r\n\r\ngot 8$/);
    expect(answers[1]).to.match(/transfer-encoding: chunked/i).and.match(/part1,\r\n5\r\npart2\r\n0\r\n\r\n$/);
    expect(answers[2], 'no body').to.match(/\r\n\r\n$/);
    expect(answers[4]).to.match(/Access denied\r\n$/);
    expect(answers[5]).to.match(/got 3$/);
  });

  it('gives a client expecting 100 Continue its interim answer, allowed or denied', async () => {
    const out = await converse(
      'PUT /size HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', /100 Continue\r\n\r\n$/, 'hello',
      'DELETE /size HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n', /got 5[^]*100 Continue\r\n\r\n/, 'no',
    );
    expect(out.split(/(?=HTTP\/1\.1 \d{3})/).map((a) => a.slice(9, 12))).to.deep.equal(['100', '200', '100', '403']);
  });

  it('passes an upgrade on and relays the switched connection both ways', async () => {
    const out = await converse('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n', /101 Switching Protocols[^]*\r\n\r\n$/, 'ping', /ping$/, 'pong', /pong$/);
    expect(out).to.match(/^HTTP\/1\.1 101 [^]*\r\n\r\npingpong$/);
  });

  it('streams bodies larger than its buffers both ways, intact', async () => {
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    s.write(`POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: ${BIG}\r\n\r\n`);
    s.write(Buffer.alloc(BIG, 'b'));
    s.end('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => s.on('close', r));
    const text = got.toString('latin1');
    expect(text).to.match(new RegExp(`^HTTP/1\\.1 200 [^]*\r\n\r\ngot ${BIG}HTTP/1\\.1 200 `));
    expect(text.endsWith('\r\n\r\n' + 'a'.repeat(BIG))).to.equal(true);
  });

  it('keeps serving others while a client does not read its large answer', async () => {
    const stalled = net.connect(port, '127.0.0.1');
    stalled.pause();
    stalled.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(await converse('GET /size HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).to.match(/got 0$/);
    stalled.destroy();
  });

  it('answers every request of a client that has finished sending before closing', async () => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d));
    s.end('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => s.on('close', r));
    expect(got.split(/(?=HTTP\/1\.1 \d{3})/).map((a) => a.slice(9, 12))).to.deep.equal(['200', '200']);
  });
});

describe('envoy/tproxy: the TPROXY chain', () => {
  it('has one rule per listener port and transport, matching the datapath\'s mark', () => {
    expect(tproxyRules([{ port: 15053, proto: 'udp' }, { port: 15000, proto: 'tcp' }])).to.deep.equal([
      '-p tcp -m mark --mark 0x3a980200 -m comment --comment "cilium: TPROXY to proxy port 15000" -j TPROXY --on-port 15000 --on-ip 0.0.0.0 --tproxy-mark 0x200/0xf00',
      '-p udp -m mark --mark 0x3acd0200 -m comment --comment "cilium: TPROXY to proxy port 15053" -j TPROXY --on-port 15053 --on-ip 0.0.0.0 --tproxy-mark 0x200/0xf00',
    ]);
    expect(() => checkProxyPort(9999)).to.throw(/not in 10000-20000/);
  });

  it('takes the proxies\' traffic out of conntrack as upstream does, and accepts it explicitly', () => {
    expect(restoreInput(PROXY_NOTRACK_CHAINS)).to.equal([
      '*raw',
      ':CILIUM_PRE_raw - [0:0]',
      ':CILIUM_OUTPUT_raw - [0:0]',
      '-A CILIUM_PRE_raw -m mark --mark 0x200/0xf00 -m comment --comment "cilium: NOTRACK for proxy traffic" -j CT --notrack',
      '-A CILIUM_OUTPUT_raw -o lxc+ -m mark --mark 0xa00/0xfffffeff -m comment --comment "cilium: NOTRACK for proxy return traffic" -j CT --notrack',
      'COMMIT',
      '*filter',
      ':CILIUM_INPUT - [0:0]',
      ':CILIUM_OUTPUT - [0:0]',
      '-A CILIUM_INPUT -m mark --mark 0x200/0xf00 -m comment --comment "cilium: ACCEPT for proxy traffic" -j ACCEPT',
      '-A CILIUM_OUTPUT -o lxc+ -m mark --mark 0xa00/0xfffffeff -m comment --comment "cilium: ACCEPT for proxy return traffic" -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'));
  });
});
