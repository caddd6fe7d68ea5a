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
import { ACCESS_DENIED_BODY, HttpProxy, type HttpFlowRecord } from '../../envoy/http/proxy.ts';
import { compileHttpPolicy, decideHttp } from '../../envoy/http/rules.ts';
import { checkProxyPort, tproxyRules } from '../../envoy/tproxy.ts';

const CLIENT_IDENTITY = 4242;

function row(http: HttpRule[], identity = CLIENT_IDENTITY): MapStateRow {
  return {
    key: { direction: 'ingress', identity, protocol: 6, port: 0, portPrefixLen: 0 },
    entry: { deny: false, proxyPort: 15000, redirect: { parser: 'http', rules: [{ parser: 'http', http }], allowAll: false }, derivedFrom: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'rule1', ruleIndex: 0 }] },
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
    expect(store.lookup({ direction: 'ingress', endpoint: '10.0.0.1', remoteIdentity: CLIENT_IDENTITY, port: 80 })?.row.key.identity).to.equal(CLIENT_IDENTITY);
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
      ingressPort: port, egressPort: port + 1, policies: store, identityOf: () => CLIENT_IDENTITY, log: nopLogger, onFlow: (f) => flows.push(f),
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

  it('answers malformed HTTP with 400 and counts it; an unknown client gets 403', async () => {
    const before = proxy.stats.malformed;
    const out = await exchange(port, 'NOT HTTP AT ALL\r\n\r\n', 1);
    expect(out).to.match(/^HTTP\/1\.1 400 Bad Request/);
    expect(proxy.stats.malformed).to.equal(before + 1);
    store.apply({ endpointId: 1, version: 4, address: '127.0.0.1', rows: [row([{ method: 'POST' }], 999)] });
    expect((await exchange(port, req('POST', '/v1/request-landing'), 1)).slice(9, 12)).to.equal('403');
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
});
