// The agent ↔ HTTP proxy process socket, both ends in this process on a unix socket in a temporary
// folder: the table's updates are acknowledged over it (a refusal names the field and keeps the
// previous version), flow records come back whole (a request and its response batched in one message or not, and the
// previous release's records too), a lost connection shows in the table's status,
// and a reconnection with the table resent brings every endpoint back.
import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import type { MapStateRow } from '../../policy/mapstate-types.ts';
import { nopLogger } from '../../runtime/logger.ts';
import { L7PolicyTable } from '../../envoy/l7-policy-table.ts';
import { HttpPolicyStore } from '../../envoy/http/policy-store.ts';
import { HttpProxyClient } from '../../envoy/http/proxy-client.ts';
import { ProxyControlServer, socketAnswers } from '../../envoy/http/proxy-control.ts';
import type { HttpFlowRecord } from '../../envoy/http/proxy.ts';
import { proxySocketPath, type ProxySettings } from '../../envoy/proxy-protocol.ts';
import { HttpExchange } from '../../envoy/http/exchange.ts';

function row(path: string): MapStateRow {
  return {
    key: { direction: 'ingress', identity: 0, protocol: 6, port: 80, portPrefixLen: 16 },
    entry: { deny: false, proxyPort: 15000, redirect: { parser: 'http', rules: [{ parser: 'http', http: [{ method: 'GET', path }] }], allowAll: false }, derivedFrom: [] },
  };
}

const until = async (what: () => boolean) => {
  for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(what()).to.equal(true);
};

describe('envoy: the HTTP proxy process socket', () => {
  let dir: string;
  let server: ProxyControlServer;
  let client: HttpProxyClient;
  let closed: Promise<void>;
  const flows: HttpFlowRecord[] = [];
  const settings: ProxySettings[] = [];
  const rows = new Map<number, MapStateRow[]>([[1, [row('/a')]]]);
  const table = new L7PolicyTable({ rows: (id) => rows.get(id), address: (id) => (rows.has(id) ? `10.0.0.${id}` : undefined) });
  const store = new HttpPolicyStore();
  const lookup = () => store.lookup({ direction: 'ingress', endpoint: '10.0.0.1', remoteIdentity: 5, port: 80 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'proxy-control-'));
    server = new ProxyControlServer(store, nopLogger, (st) => settings.push(st));
    await server.listen(proxySocketPath(dir));
    client = new HttpProxyClient((f) => flows.push(f), () => undefined);
  });
  after(() => {
    client.disconnect();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens root-only and acknowledges the table over the socket', async () => {
    expect(statSync(proxySocketPath(dir)).mode & 0o777).to.equal(0o600);
    expect(statSync(join(dir, 'envoy', 'sockets')).mode & 0o777).to.equal(0o700);
    expect(await socketAnswers(proxySocketPath(dir))).to.equal(true);
    table.update(1);
    table.subscribe(client);
    await until(() => table.status()[0]?.error === 'the http proxy is not connected');
    expect(table.status()[0]).to.include({ acked: 0 });
    ({ closed } = await client.connect(proxySocketPath(dir)));
    table.resend(client);
    await until(() => table.status()[0]?.acked === 1 && !table.status()[0]?.error);
    expect(lookup()?.kind).to.equal('http');
  });

  it('passes the agent\'s settings to the proxy, unanswered, between policy updates', async () => {
    expect(client.sendSettings({ upstreamLingerSeconds: 0 })).to.equal(true);
    table.resend(client);
    await until(() => settings.length === 1 && table.status()[0]?.acked === 1 && !table.status()[0]?.error);
    expect(settings).to.deep.equal([{ upstreamLingerSeconds: 0 }]);
  });

  it('keeps the previous version when the proxy refuses an update, naming the field', async () => {
    rows.set(1, [row('(')]);
    table.update(1);
    await until(() => table.status()[0]?.error !== undefined);
    expect(table.status()[0]).to.include({ desired: 2, acked: 1 });
    expect(table.status()[0]!.error).to.match(/endpoint 1 version 2: .*path/);
  });

  it('brings flow records back whole: a request and its response in one message, or each in its own', async () => {
    const conn = { direction: 'ingress' as const, source: { ip: '10.0.0.9', port: 4000, identity: 5 }, destination: { ip: '10.0.0.1', port: 80, identity: 7 } };
    const origins = [{ kind: 'CiliumNetworkPolicy' as const, namespace: 'ns', name: 'p', ruleIndex: 0 }];
    const quick = new HttpExchange(conn, 'GET', 'http://x/a', 'HTTP/1.1', ['Host', 'x'], 'FORWARDED', origins, 0);
    server.request(quick);
    quick.finish('FORWARDED', 200);
    server.response(quick);
    await until(() => flows.length === 2);
    expect(flows.map((f) => [f.type, f.method, f.verdict, f.code])).to.deep.equal([['request', 'GET', 'FORWARDED', 0], ['response', 'GET', 'FORWARDED', 200]]);
    expect(flows[0]).to.deep.include({ source: conn.source, destination: conn.destination, url: 'http://x/a', headers: ['Host', 'x'], origins, rule: 0 });
    expect(flows[0]!.time.getTime()).to.equal(quick.timeMs);
    expect(flows[1]!.latencyNs).to.equal(BigInt(quick.response!.latencyNs));
    expect(flows[1]!.time.getTime()).to.equal(quick.response!.timeMs);
    const slow = new HttpExchange(conn, 'PUT', 'http://x/b', 'HTTP/1.1', [], 'DROPPED', [], -1);
    server.request(slow);
    await until(() => flows.length === 3);
    slow.finish('DROPPED', 403);
    server.response(slow);
    await until(() => flows.length === 4);
    expect(flows.slice(2).map((f) => [f.type, f.method, f.verdict, f.code])).to.deep.equal([['request', 'PUT', 'DROPPED', 0], ['response', 'PUT', 'DROPPED', 403]]);
  });

  it('still reads the flow records of a proxy of the previous release', async () => {
    const old: HttpFlowRecord[] = [];
    const path = join(dir, 'old-proxy.sock');
    const oldProxy = net.createServer((s) => s.end(JSON.stringify({
      type: 'flow', flow: {
        type: 'response', direction: 'ingress', source: { ip: '10.0.0.9', port: 4000, identity: 5 }, destination: { ip: '10.0.0.1', port: 80, identity: 7 },
        method: 'GET', url: 'http://x/a', protocol: 'HTTP/1.1', headers: ['Host', 'x'], verdict: 'FORWARDED', code: 200, latencyNs: '12345678901234',
        time: '2026-01-02T03:04:05.678Z', origins: [], rule: 0,
      },
    }) + '\n'));
    await new Promise<void>((resolve) => oldProxy.listen(path, () => resolve()));
    const reader = new HttpProxyClient((f) => old.push(f), () => undefined);
    try {
      await reader.connect(path);
      await until(() => old.length === 1);
      expect(old[0]!.latencyNs).to.equal(12345678901234n);
      expect(old[0]!.time.toISOString()).to.equal('2026-01-02T03:04:05.678Z');
    } finally {
      reader.disconnect();
      oldProxy.close();
    }
  });

  it('shows a lost connection in the status, and a reconnection with the table resent applies the newest version', async () => {
    rows.set(1, [row('/b')]);
    client.disconnect();
    await closed;
    table.update(1);
    await until(() => table.status()[0]?.error === 'the http proxy is not connected');
    expect(table.status()[0]).to.include({ desired: 3, acked: 1 });
    await client.connect(proxySocketPath(dir));
    table.resend(client);
    await until(() => table.status()[0]?.acked === 3 && !table.status()[0]?.error);
  });
});
