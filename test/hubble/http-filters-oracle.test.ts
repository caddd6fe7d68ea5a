// The HTTP filters against upstream's own: L7 flows as the HTTP proxy records them (and some L3/L4
// flows) served by Ciliate's Hubble server and read from a file by `hubble observe --input-file`
// (upstream's client-side filters); for each set of HTTP filter flags both select the same flows.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHttpFlow } from '../../agent/http-flow.ts';
import type { HttpFlowRecord } from '../../envoy/http/proxy.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { HubbleServer } from '../../hubble/server.ts';
import { runCommand } from '../support/cluster.ts';
import { ensureHubbleCli, hubble, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { syntheticFlows } from '../support/hubble-flows.ts';

const CASES: string[][] = [
  ['--protocol', 'http'],
  ['--type', 'l7'],
  ['--http-status', '200'],
  ['--http-status', '4+'],
  ['--http-status', '40+'],
  ['--http-method', 'PUT'],
  ['--http-method', 'post'],
  ['--http-path', '/v1/.*'],
  ['--http-path', 'exhaust'],
  ['--http-url', 'deathstar\\.default'],
  ['--http-header', 'X-Team:empire'],
  ['--http-status', '403', '--http-method', 'PUT'],
  ['--not', '--http-method', 'GET'],
];

/** Requests and responses as the HTTP proxy records them: three methods, three paths, allowed and denied. */
function httpFlows(): Flow[] {
  const out: Flow[] = [];
  const requests: [string, string, boolean, number][] = [
    ['POST', '/v1/request-landing', true, 200], ['PUT', '/v1/exhaust-port', false, 403], ['GET', '/v1/', true, 200],
    ['GET', '/healthz', true, 503], ['POST', '/v2/board', true, 201],
  ];
  requests.forEach(([method, path, allowed, code], i) => {
    for (const type of ['request', 'response'] as const) {
      const r: HttpFlowRecord = {
        type, direction: 'ingress', source: { ip: '10.244.0.5', port: 40000 + i, identity: 1001 }, destination: { ip: '10.244.1.7', port: 80, identity: 1002 },
        method, url: `http://deathstar.${i % 2 ? 'default' : 'empire'}.svc.cluster.local${path}`, protocol: 'HTTP/1.1',
        headers: ['Host', 'deathstar', 'X-Team', i % 2 ? 'empire' : 'rebels'], verdict: allowed ? 'FORWARDED' : 'DROPPED',
        code: type === 'response' ? code : 0, latencyNs: type === 'response' ? 1_500_000n : 0n, time: new Date(Date.UTC(2026, 0, 1, 0, 0, i, type === 'response' ? 500 : 0)),
        origins: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'rule1', ruleIndex: 0 }], rule: allowed ? 0 : -1,
      };
      out.push(toHttpFlow(r, (ip, identity) => ({ identity, namespace: 'default', pod_name: ip.endsWith('.5') ? 'tiefighter' : 'deathstar-0', labels: [] }), { nodeName: 'node-a', proxyPort: 15000 }));
    }
  });
  return out;
}

describe('Hubble HTTP filters: the server selects what upstream\'s client-side filters select', function () {
  this.timeout(600_000);
  let dir: string;
  let server: HubbleServer | undefined;
  let socket: string;
  let file: string;
  const flows = [...syntheticFlows(6), ...httpFlows()];

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'ciliate-hubble-http-'));
    socket = join(dir, 'hubble.sock');
    const ring = new FlowRing(63);
    for (const f of flows) ring.push(f);
    server = new HubbleServer(ring, { nodeName: 'node-a', clusterName: 'default', version: 'test', address: '', peers: { list: () => [], watch: () => () => undefined } });
    await server.listen(socket);
    const all = await hubble(socket, ['observe', '--all', '-o', 'json']);
    expect(all.code, all.stderr).to.equal(0);
    expect(jsonLines(all.stdout)).to.have.length(flows.length);
    file = join(dir, 'flows.json');
    writeFileSync(file, all.stdout);
  });

  after(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const uuids = (stdout: string) => jsonLines<{ flow: { uuid: string } }>(stdout).map((l) => l.flow.uuid);

  for (const flags of CASES) {
    it(`hubble observe ${flags.join(' ')}`, async function () {
      const served = await hubble(socket, ['observe', '--all', '-o', 'json', ...flags]);
      expect(served.code, served.stderr).to.equal(0);
      const oracle = await runCommand(hubbleCli(), ['observe', '--input-file', file, '-o', 'json', ...flags], { HUBBLE_CONFIG: '/dev/null' });
      expect(oracle.code, oracle.stderr).to.equal(0);
      expect(uuids(served.stdout)).to.deep.equal(uuids(oracle.stdout));
      if (flags[0] !== '--not') expect(uuids(served.stdout).length, 'selects some flows').to.be.greaterThan(0);
    });
  }

  it('refuses a malformed status code naming the field', async function () {
    const r = await hubble(socket, ['observe', '--all', '--http-status', '2x']);
    expect(r.code).to.not.equal(0);
  });
});
