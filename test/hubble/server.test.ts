// Ciliate's Hubble server in process, with the upstream `hubble` CLI as its client: history
// (last/first/since/until), follow, the ring's bound, status, nodes, namespaces, peers, health and
// refused filters; plus the stream writer's bound for a client that stops reading.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFilter, FilterError } from '../../hubble/filters.ts';
import type { Flow, FlowFilter } from '../../hubble/flow-types.ts';
import { FlowRing, isValidRingCapacity } from '../../hubble/ring.ts';
import { HubbleServer } from '../../hubble/server.ts';
import { StreamWriter } from '../../hubble/stream-writer.ts';
import { ensureHubbleCli, hubble, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { syntheticFlows } from '../support/hubble-flows.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Hubble server with the upstream CLI', function () {
  this.timeout(600_000);
  let dir: string;
  let socket: string;
  let ring: FlowRing;
  let server: HubbleServer | undefined;
  const flows = syntheticFlows(100, T0);
  const uuids = (stdout: string) => jsonLines<{ flow?: Flow }>(stdout).flatMap((l) => (l.flow ? [l.flow.uuid] : []));

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'ciliate-hubble-'));
    socket = join(dir, 'hubble.sock');
    ring = new FlowRing(63);
    for (const f of flows) ring.push(f);
    server = new HubbleServer(ring, {
      nodeName: 'node-a', clusterName: 'default', version: 'test', address: '10.0.0.1:4244',
      peers: { list: () => [{ name: 'node-a', address: '10.0.0.1:4244' }, { name: 'node-b', address: '10.0.0.2:4244' }], watch: () => () => undefined },
    });
    await server.listen(socket);
  });

  after(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps only the ring\'s capacity, newest last; status reports held, max and seen', async function () {
    const all = await hubble(socket, ['observe', '--all', '-o', 'json']);
    expect(uuids(all.stdout)).to.deep.equal(flows.slice(-63).map((f) => f.uuid));
    const status = await hubble(socket, ['status']);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(/Healthcheck \(via unix:\/\/.*\): Ok/);
    expect(status.stdout).to.include('Current/Max Flows: 63/63 (100.00%)');
    expect(server!.status()).to.include({ num_flows: 63, max_flows: 63, seen_flows: 100 });
  });

  it('--last N is the newest N in time order, --first N the oldest N', async function () {
    expect(uuids((await hubble(socket, ['observe', '--last', '3', '-o', 'json'])).stdout)).to.deep.equal(flows.slice(-3).map((f) => f.uuid));
    expect(uuids((await hubble(socket, ['observe', '--first', '2', '-o', 'json'])).stdout)).to.deep.equal(flows.slice(37, 39).map((f) => f.uuid));
    expect(uuids((await hubble(socket, ['observe', '--last', '2', '--verdict', 'DROPPED', '-o', 'json'])).stdout))
      .to.deep.equal(flows.filter((f) => f.verdict === 'DROPPED').slice(-2).map((f) => f.uuid));
  });

  it('--since and --until bound the time', async function () {
    const iso = (ms: number) => new Date(ms).toISOString();
    const r = await hubble(socket, ['observe', '-o', 'json', '--since', iso(T0 + 50), '--until', iso(T0 + 54)]);
    expect(r.code, r.stderr).to.equal(0);
    expect(uuids(r.stdout)).to.deep.equal(flows.slice(50, 55).map((f) => f.uuid));
  });

  it('--follow streams flows added after it started, filtered', async function () {
    const follower = spawn(hubbleCli(), ['observe', '--server', `unix://${socket}`, '--follow', '-o', 'json', '--verdict', 'DROPPED'], { env: { ...process.env, HUBBLE_CONFIG: '/dev/null' } });
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 50 && uuids(out).length < 3; i++) {
        if (i % 10 === 0) for (const f of syntheticFlows(12, Date.now())) ring.push(f);
        await sleep(100);
      }
      expect(uuids(out).length).to.be.at.least(3);
      expect(jsonLines<{ flow: Flow }>(out).every((l) => l.flow.verdict === 'DROPPED')).to.be.true;
      const history = new Set(flows.map((f) => f.uuid));
      expect(uuids(out).some((u) => history.has(u)), 'history is not replayed').to.be.false;
    } finally {
      follower.kill();
    }
  });

  it('lists this node, the namespaces of its flows and its peers', async function () {
    const nodes = await hubble(socket, ['list', 'nodes']);
    expect(nodes.stdout).to.match(/node-a\s+Connected/);
    const namespaces = await hubble(socket, ['list', 'namespaces']);
    expect(namespaces.stdout.split('\n').map((l) => l.trim())).to.include.members(['demo', 'other']);
    const { runCommand } = await import('../support/cluster.ts');
    const peers = await runCommand('timeout', ['3', hubbleCli(), 'watch', 'peers', '--server', `unix://${socket}`], { HUBBLE_CONFIG: '/dev/null' });
    expect(peers.stdout).to.include('10.0.0.1:4244').and.include('10.0.0.2:4244').and.include('PEER_ADDED');
  });

  it('refuses malformed filters with InvalidArgument naming the field', async function () {
    for (const [flags, field] of [[['--from-ip', '10.0.0.300'], 'source_ip'], [['--to-label', 'a in (('], 'destination_label']] as const) {
      const r = await hubble(socket, ['observe', ...flags]);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.match(new RegExp(`InvalidArgument.*${field}`));
    }
  });
});

describe('Hubble filter validation and the follower bound', function () {
  const bad: [FlowFilter, string][] = [
    [{ source_ip: ['10.0.0.0/33'] }, 'source_ip'],
    [{ destination_ip: ['fe80::1'] }, 'destination_ip'],
    [{ destination_port: ['http'] }, 'destination_port'],
    [{ source_port: ['70000'] }, 'source_port'],
    [{ protocol: ['gopher'] }, 'protocol'],
    [{ source_label: ['app=a b'] }, 'source_label'],
    [{ experimental: { cel_expression: ['true'] } }, 'experimental.cel_expression'],
  ];
  for (const [filter, field] of bad) {
    it(`rejects ${JSON.stringify(filter)} naming ${field}`, () => {
      expect(() => compileFilter(filter)).to.throw(FilterError).with.property('field', field);
    });
  }

  it('accepts only capacities of 2^n - 1 up to 65535', () => {
    expect([1, 3, 4095, 65535].every(isValidRingCapacity)).to.be.true;
    expect([0, 2, 4096, 131071].some(isValidRingCapacity)).to.be.false;
  });

  it('a client that stops reading loses followed flows instead of queueing them, and is told how many', () => {
    const written: Record<string, unknown>[] = [];
    let drain: (() => void) | undefined;
    let full = true;
    const call = {
      write: (m: Record<string, unknown>) => (written.push(m), !full),
      end: () => undefined,
      once: (_e: 'drain', cb: () => void) => (drain = cb),
      on: () => undefined,
    };
    const w = new StreamWriter(call, 8);
    for (let i = 0; i < 1000; i++) w.send({ n: i }, true, () => ({ lost: w.lost }));
    expect(written).to.have.length(1);
    expect(w.lost).to.equal(1000 - 1 - 8);
    full = false;
    drain!();
    expect(written).to.have.length(9);
    w.send({ n: 'next' }, true, () => ({ lost: w.lost }));
    expect(written.slice(-2)).to.deep.equal([{ lost: 991 }, { n: 'next' }]);
    expect(w.lost).to.equal(0);
  });
});
