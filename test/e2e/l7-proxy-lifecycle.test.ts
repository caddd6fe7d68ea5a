// The HTTP proxy's lifecycle on the shared two-node cluster of real (kubelet) nodes: the proxy is a
// process of its own, started by the agent. An agent SIGKILL (the cluster supervisor restarts the
// agent) leaves an open keep-alive proxied connection working: every request on it keeps its
// correct 200 / 403 answer during and after the restart, on the same connection; and new
// connections made meanwhile are counted (the figure is printed). Killing the proxy makes the agent
// start it again, and L7 enforcement resumes. A keep-alive connection the proxy holds follows its
// port's policy becoming L4-only (every request passes) and back.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { PodEndpoint } from '../../cluster/pods.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { l7EchoPods } from '../support/l7-echo-pods.ts';
import { keepAliveClient } from '../support/keep-alive-client.ts';
import { killAgent, killProxy, proxyPid } from '../support/node-processes.ts';

const NS = `l7-life-${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run in the client pod's network namespace for `ms`: every 50 ms, a request on one keep-alive
 * connection (alternately an allowed GET and a denied PUT) and an allowed GET on a new connection
 * (1 s timeout). Prints one JSON line: the keep-alive answers and local ports, the new connections'
 * successes and failures.
 */
const clientScript = (ip: string, ms: number) => `
  const http = require('node:http');
  const keep = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out = { keepAlive: [], ports: new Set(), fresh: { ok: 0, failed: 0 } };
  let n = 0, busy = false;
  const ask = (opts, cb) => {
    const req = http.request({ host: '${ip}', port: 80, timeout: 1000, ...opts }, (res) => {
      res.resume();
      res.on('end', () => cb(null, res.statusCode, req.socket.localPort));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => cb(e));
    req.end();
  };
  const tick = setInterval(() => {
    ask({ agent: false, path: '/echo?msg=fresh' }, (e, code) => e || code !== 200 ? out.fresh.failed++ : out.fresh.ok++);
    if (busy) return;
    busy = true;
    const put = n++ % 2 === 1;
    ask({ agent: keep, method: put ? 'PUT' : 'GET', path: '/echo?msg=' + n }, (e, code, port) => {
      busy = false;
      out.keepAlive.push(e ? (put ? 'PUT ' : 'GET ') + e.message : (put ? 'PUT ' : 'GET ') + code);
      if (port) out.ports.add(port);
    });
  }, 50);
  setTimeout(() => {
    clearInterval(tick);
    setTimeout(() => { console.log(JSON.stringify({ ...out, ports: [...out.ports] })); process.exit(0); }, 1500);
  }, ${ms});`;

interface ClientReport {
  keepAlive: string[];
  ports: number[];
  fresh: { ok: number; failed: number };
}

describe('the HTTP proxy as its own process: agent restarts and proxy crashes on real pods', function () {
  this.timeout(600_000);
  let c: RunningCluster;
  let echo: PodEndpoint;
  let client: PodEndpoint;

  const kubectl = (args: string[], input?: string) => runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
  /** One request from the client pod on a new connection: the status code, or `exit N` from curl. */
  const request = async (method: string) => {
    const r = await runCommand('nsenter', [`--net=${client.netns}`, 'curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', '-X', method, `http://${echo.ip}/echo?msg=x`]);
    return r.code === 0 ? r.stdout : `exit ${r.code}`;
  };
  const runClient = (ms: number): Promise<ClientReport> => new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${client.netns}`, process.execPath, '-e', clientScript(echo.ip, ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out) as ClientReport);
      } catch {
        reject(new Error(`client printed: ${out}`));
      }
    });
  });

  before(async () => {
    c = await testRealNodesCluster();
    ({ echo, client } = await l7EchoPods(c, NS));
    let put = '';
    for (let i = 0; i < 40 && put !== '403'; i++) {
      put = await request('PUT');
      if (put !== '403') await sleep(500);
    }
    expect(put, 'PUT denied by the proxy').to.equal('403');
    expect(await request('GET')).to.equal('200');
  });

  after(async () => {
    if (c) await kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  it('keeps an open keep-alive proxied connection answering 200 / 403 while the agent is SIGKILLed and restarted', async () => {
    const proxyBefore = proxyPid(c, echo.node);
    expect(proxyBefore, 'a proxy process').to.be.a('number');
    const report = runClient(8000);
    await sleep(1500);
    expect(await killAgent(c, echo.node), 'the supervisor restarted the agent').to.equal(true);
    const r = await report;
    console.log(`      agent SIGKILL: keep-alive ${r.keepAlive.length} requests on ${r.ports.length} connection(s); new connections ${r.fresh.failed} failed of ${r.fresh.ok + r.fresh.failed}`);
    expect(r.keepAlive.length).to.be.greaterThan(20);
    expect(r.keepAlive.filter((a) => a !== 'GET 200' && a !== 'PUT 403'), 'wrong answers on the keep-alive connection').to.deep.equal([]);
    expect(r.ports, 'one connection throughout').to.have.length(1);
    expect(proxyPid(c, echo.node), 'the same proxy process').to.equal(proxyBefore);
    // The restarted agent reconnected: a policy change reaches the proxy (PUT allowed, then denied again).
    const allowPut = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'echo-put', namespace: NS },
      spec: { endpointSelector: { matchLabels: { app: 'echo' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'PUT' }] } }] }] } };
    expect((await kubectl(['apply', '-f', '-'], JSON.stringify(allowPut))).code).to.equal(0);
    let put = '';
    for (let i = 0; i < 60 && put !== '200'; i++) {
      put = await request('PUT');
      if (put !== '200') await sleep(500);
    }
    expect(put, 'PUT allowed once the restarted agent pushed the new policy').to.equal('200');
    expect((await kubectl(['delete', '-n', NS, 'cnp/echo-put'])).code).to.equal(0);
    for (let i = 0; i < 60 && put !== '403'; i++) {
      put = await request('PUT');
      if (put !== '403') await sleep(500);
    }
    expect(put, 'PUT denied again').to.equal('403');
  });

  it('starts a killed proxy again, and L7 enforcement resumes', async () => {
    const old = proxyPid(c, echo.node)!;
    expect(old).to.be.a('number');
    expect(await killProxy(c, echo.node), 'a new proxy process').to.be.a('number').and.not.equal(old);
    let put = '';
    for (let i = 0; i < 40 && put !== '403'; i++) {
      put = await request('PUT');
      if (put !== '403') await sleep(500);
    }
    expect(put, 'PUT denied by the new proxy').to.equal('403');
    expect(await request('GET'), 'GET forwarded by the new proxy').to.equal('200');
  });

  it('follows the policy becoming L4-only, and back, on an open keep-alive proxied connection', async () => {
    const conn = keepAliveClient(client.netns, echo.ip, 80, 'PUT /echo?msg=x HTTP/1.1\r\nHost: echo\r\nContent-Length: 0\r\n\r\n');
    const policy = (http: boolean) => JSON.stringify({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'echo-get-only', namespace: NS },
      spec: {
        endpointSelector: { matchLabels: { app: 'echo' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], ...(http && { rules: { http: [{ method: 'GET', path: '/echo.*' }] } }) }] }],
      },
    });
    try {
      expect(await conn.first(), 'PUT under the HTTP rule').to.match(/^403 /);
      // L4-only: the datapath keeps handing this connection to the proxy, which now passes every request.
      expect((await kubectl(['apply', '-f', '-'], policy(false))).code).to.equal(0);
      expect(await conn.askUntil('200'), 'PUT once the port is L4-only').to.match(/^200 /);
      expect((await kubectl(['apply', '-f', '-'], policy(true))).code).to.equal(0);
      expect(await conn.askUntil('403'), 'PUT under the HTTP rule again').to.match(/^403 /);
      expect(new Set(conn.lines.map((l) => l.split(' ')[1])).size, 'one connection throughout').to.equal(1);
    } finally {
      conn.close();
      await kubectl(['apply', '-f', '-'], policy(true));
    }
  });
});
