// Ciliate's Hubble Relay in process, in front of two in-process Hubble servers (node-a, node-b,
// whose flows interleave in time), with the upstream `hubble` CLI as its client: peers found through
// node-a's Notify, merged history (last/first/all) in time order, filters, follow, aggregated status,
// nodes and namespaces, refused filters, a client that leaves mid-stream, and a node that goes away.
// Also the merge on its own: exact order, the follow drain, and pausing a stream that floods it.
import { expect } from 'chai';
import { credentials } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Flow, Timestamp } from '../../hubble/flow-types.ts';
import { toTimestamp } from '../../hubble/flow-types.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { HubbleServer, type HubblePeer } from '../../hubble/server.ts';
import { relayConfig } from '../../hubble/relay/config.ts';
import { TimeMerge } from '../../hubble/relay/merge.ts';
import { hubbleClients } from '../../hubble/clients.ts';
import { PeerPool } from '../../hubble/relay/peer-pool.ts';
import { RelayServer } from '../../hubble/relay/server.ts';
import { createLogger } from '../../runtime/logger.ts';
import { ConfigError } from '../../runtime/settings.ts';
import { runCommand } from '../support/cluster.ts';
import { ensureHubbleCli, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { syntheticFlows } from '../support/hubble-flows.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = createLogger({ level: 'error' });

/** `count` flows of `node`, at T0 + 2i + offset ms. */
function nodeFlows(node: string, count: number, offset: number): Flow[] {
  return syntheticFlows(count, T0, node).map((f, i) => ({ ...f, time: toTimestamp(T0 + 2 * i + offset), uuid: `${node}-${i}` }));
}

/** In-process Hubble servers over `rings` (named by node) on unix sockets, and a relay in front of them. */
interface RelaySetup {
  dir: string;
  servers: Map<string, HubbleServer>;
  pool: PeerPool;
  address: string;
  close(): void;
}

async function relayOver(rings: Record<string, FlowRing>): Promise<RelaySetup> {
  const dir = mkdtempSync(join(tmpdir(), 'ciliate-relay-'));
  const sock = (n: string) => join(dir, `${n}.sock`);
  const names = Object.keys(rings);
  const peers: HubblePeer[] = names.map((n) => ({ name: n, address: `unix://${sock(n)}` }));
  const servers = new Map<string, HubbleServer>();
  for (const name of names) {
    const server = new HubbleServer(rings[name]!, {
      nodeName: name, clusterName: 'default', version: 'test', address: `unix://${sock(name)}`, peers: { list: () => peers, watch: () => () => undefined },
    });
    servers.set(name, server);
    await server.listen(sock(name));
  }
  const pool = new PeerPool({ peerService: `unix://${sock(names[0]!)}`, retryTimeoutMs: 1000, probeIntervalMs: 500, probeTimeoutMs: 500, log: quiet });
  pool.start();
  const relay = new RelayServer({
    peers: () => pool.list(), peerServiceConnected: () => pool.peerServiceConnected, version: 'relay-test',
    sortBufferLenMax: 100, sortBufferDrainTimeoutMs: 200, stallTimeoutMs: 2000, peerUpdateIntervalMs: 300, log: quiet,
  });
  await relay.listen('127.0.0.1:0');
  for (let i = 0; i < 50 && pool.list().filter((p) => p.available).length < names.length; i++) await sleep(100);
  expect(pool.list().map((p) => [p.name, p.available])).to.deep.equal(names.map((n) => [n, true]));
  return {
    dir, servers, pool, address: `127.0.0.1:${relay.port}`,
    close() {
      relay.close();
      pool.stop();
      for (const srv of servers.values()) srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('Hubble Relay with the upstream CLI, over two in-process Hubble servers', function () {
  this.timeout(120_000);
  const rings = { 'node-a': new FlowRing(63), 'node-b': new FlowRing(63) };
  let setup: RelaySetup | undefined;
  let address: string;
  const flowsA = nodeFlows('node-a', 40, 0);
  const flowsB = nodeFlows('node-b', 40, 1);
  const hubble = (args: string[]) => runCommand(hubbleCli(), [...args, '--server', address], { HUBBLE_CONFIG: '/dev/null' });
  const flowsOf = (stdout: string) => jsonLines<{ flow?: Flow }>(stdout).flatMap((l) => (l.flow ? [l.flow] : []));
  const ordered = (fs: Flow[]) => fs.every((f, i) => i === 0 || Date.parse(String(fs[i - 1]!.time)) <= Date.parse(String(f.time)));
  const listeners = (ring: FlowRing) => (ring as unknown as { listeners: Set<unknown> }).listeners.size;

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    for (const f of flowsA) rings['node-a'].push(f);
    for (const f of flowsB) rings['node-b'].push(f);
    setup = await relayOver(rings);
    address = setup.address;
  });

  after(() => setup?.close());

  it('hubble status aggregates both nodes', async function () {
    const r = await hubble(['status']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Healthcheck \(via 127\.0\.0\.1:\d+\): Ok/);
    expect(r.stdout).to.include('Current/Max Flows: 80/126');
    expect(r.stdout).to.include('Connected Nodes: 2/2');
  });

  it('--last N is the newest N of the cluster, --first N the oldest, --all everything, each in time order', async function () {
    const all = [...flowsA, ...flowsB].sort((a, b) => timeNs(a.time) - timeNs(b.time)).map((f) => f.uuid);
    const last = flowsOf((await hubble(['observe', '--last', '10', '-o', 'json'])).stdout);
    expect(last.map((f) => f.uuid)).to.deep.equal(all.slice(-10));
    const first = flowsOf((await hubble(['observe', '--first', '5', '-o', 'json'])).stdout);
    expect(first.map((f) => f.uuid)).to.deep.equal(all.slice(0, 5));
    const every = flowsOf((await hubble(['observe', '--all', '-o', 'json'])).stdout);
    expect(every.map((f) => f.uuid)).to.deep.equal(all);
    expect(new Set(every.map((f) => f.node_name))).to.deep.equal(new Set(['node-a', 'node-b']));
  });

  it('filters reach every node: --verdict, --to-port, -n, --since/--until', async function () {
    const drops = flowsOf((await hubble(['observe', '--all', '--verdict', 'DROPPED', '-o', 'json'])).stdout);
    expect(drops.length).to.equal([...flowsA, ...flowsB].filter((f) => f.verdict === 'DROPPED').length);
    expect(new Set(drops.map((f) => f.node_name)).size).to.equal(2);
    expect(ordered(drops)).to.be.true;
    const db = flowsOf((await hubble(['observe', '--all', '--to-port', '5432', '-n', 'other', '-o', 'json'])).stdout);
    expect(db.length).to.be.greaterThan(0);
    expect(db.map((f) => f.l4?.TCP?.destination_port ?? f.l4?.UDP?.destination_port)).to.satisfy((ports: number[]) => ports.every((p) => p === 5432));
    const iso = (ms: number) => new Date(ms).toISOString();
    const window = flowsOf((await hubble(['observe', '-o', 'json', '--since', iso(T0 + 10), '--until', iso(T0 + 13)])).stdout);
    expect(window.map((f) => f.uuid)).to.deep.equal(['node-a-5', 'node-b-5', 'node-a-6', 'node-b-6']);
  });

  it('list nodes and list namespaces merge both nodes', async function () {
    const nodes = await hubble(['list', 'nodes']);
    expect(nodes.stdout).to.match(/node-a\s+Connected/).and.match(/node-b\s+Connected/);
    const namespaces = await hubble(['list', 'namespaces']);
    expect(namespaces.stdout.split('\n').map((l) => l.trim())).to.include.members(['demo', 'other']);
  });

  it('--follow streams new flows of both nodes in time order; leaving cancels the upstream streams', async function () {
    const follower = spawn(hubbleCli(), ['observe', '--server', address, '--follow', '-o', 'json'], { env: { ...process.env, HUBBLE_CONFIG: '/dev/null' } });
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 50 && (listeners(rings['node-a']) === 0 || listeners(rings['node-b']) === 0); i++) await sleep(100);
      const now = Date.now();
      for (let i = 0; i < 5; i++) {
        rings['node-b'].push({ ...flowsB[0]!, uuid: `live-b-${i}`, time: toTimestamp(now + 2 * i + 1) });
        rings['node-a'].push({ ...flowsA[0]!, uuid: `live-a-${i}`, time: toTimestamp(now + 2 * i) });
      }
      for (let i = 0; i < 50 && flowsOf(out).length < 10; i++) await sleep(100);
      expect(flowsOf(out).map((f) => f.uuid)).to.deep.equal([0, 1, 2, 3, 4].flatMap((i) => [`live-a-${i}`, `live-b-${i}`]));
    } finally {
      follower.kill();
    }
    for (let i = 0; i < 50 && listeners(rings['node-a']) + listeners(rings['node-b']) > 0; i++) await sleep(100);
    expect(listeners(rings['node-a']) + listeners(rings['node-b'])).to.equal(0);
  });

  it('a client that stops reading a while gets two full rings of history, in order, once it reads again', async function () {
    const big = { 'node-a': new FlowRing(4095), 'node-b': new FlowRing(4095) };
    for (const f of nodeFlows('node-a', 4095, 0)) big['node-a'].push(f);
    for (const f of nodeFlows('node-b', 4095, 1)) big['node-b'].push(f);
    const other = await relayOver(big);
    const client = new (hubbleClients().observer)(other.address, credentials.createInsecure());
    try {
      const stream = client.GetFlows({ since: { seconds: 0, nanos: 0 } });
      const got: string[] = [];
      stream.on('data', (r: { flow?: Flow }) => {
        if (r.flow) got.push(r.flow.uuid!);
        if (got.length === 1) {
          stream.pause();
          setTimeout(() => stream.resume(), 1000);
        }
      });
      await new Promise<void>((resolve, reject) => {
        stream.on('end', () => resolve());
        stream.on('error', reject);
      });
      const expected = [...big['node-a'].snapshot(), ...big['node-b'].snapshot()].sort((x, y) => timeNs(x.time) - timeNs(y.time));
      expect(got).to.have.length(8190);
      expect(got).to.deep.equal(expected.map((f) => f.uuid));
    } finally {
      client.close();
      other.close();
    }
  });

  it('a malformed filter is refused by the relay with InvalidArgument naming the field', async function () {
    const r = await hubble(['observe', '--to-ip', '10.0.0.300']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/InvalidArgument.*destination_ip/);
  });

  it('a node that goes away is unavailable in status and list nodes, and queries still complete', async function () {
    setup!.servers.get('node-b')!.close();
    for (let i = 0; i < 50 && setup!.pool.list().find((p) => p.name === 'node-b')?.available; i++) await sleep(100);
    const status = await hubble(['status']);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.include('Connected Nodes: 1/2').and.match(/Unavailable Nodes: 1\n\s+- node-b/);
    const nodes = await hubble(['list', 'nodes']);
    expect(nodes.stdout).to.match(/node-a\s+Connected/).and.match(/node-b\s+Unavailable/);
    const r = await hubble(['observe', '--last', '5', '-o', 'json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(flowsOf(r.stdout).map((f) => f.uuid)).to.deep.equal(['live-a-0', 'live-a-1', 'live-a-2', 'live-a-3', 'live-a-4']);
  });

  it('a node that comes back is connected again', async function () {
    await sleep(3000); // a few failed reconnects first, as after an agent crash
    const back = new HubbleServer(rings['node-b'], {
      nodeName: 'node-b', clusterName: 'default', version: 'test', address: '', peers: { list: () => [], watch: () => () => undefined },
    });
    setup!.servers.set('node-b', back);
    await back.listen(join(setup!.dir, 'node-b.sock'));
    let status = await hubble(['status']);
    for (let i = 0; i < 40 && !status.stdout.includes('Connected Nodes: 2/2'); i++) {
      await sleep(250);
      status = await hubble(['status']);
    }
    expect(status.stdout).to.include('Connected Nodes: 2/2');
  });
});

describe('Hubble Relay pieces', function () {
  const at = (ms: number): { time: Timestamp; id: string } => ({ time: toTimestamp(ms), id: String(ms) });

  it('merges time-ordered streams exactly, waiting for every open stream', function () {
    const out: string[] = [];
    let done = false;
    const m = new TimeMerge<{ time: Timestamp; id: string }>({ follow: false, sortBufferLenMax: 2, drainTimeoutMs: 1, emit: (i) => (out.push(i.id), true), done: () => (done = true) });
    const a = m.add();
    const b = m.add();
    m.seal();
    a.push(at(1));
    a.push(at(4));
    a.push(at(5));
    expect(out).to.deep.equal([]);
    b.push(at(2));
    expect(out).to.deep.equal(['1', '2']);
    b.push(at(3));
    b.end();
    expect(out).to.deep.equal(['1', '2', '3', '4', '5']);
    expect(done).to.be.false;
    a.end();
    expect(done).to.be.true;
  });

  it('following, a quiet stream holds the others back only for the drain timeout or the buffer bound', async function () {
    const out: string[] = [];
    const m = new TimeMerge<{ time: Timestamp; id: string }>({ follow: true, sortBufferLenMax: 3, drainTimeoutMs: 50, emit: (i) => (out.push(i.id), true), done: () => undefined });
    const a = m.add();
    m.add();
    m.seal();
    a.push(at(1));
    expect(out).to.deep.equal([]);
    await sleep(120);
    expect(out).to.deep.equal(['1']);
    for (const t of [2, 3, 4]) a.push(at(t));
    expect(out).to.deep.equal(['1', '2']);
    m.close();
  });

  it('pauses a stream that floods a blocked consumer, and resumes it as the consumer drains', function () {
    const paused: boolean[] = [];
    let open = false;
    const out: string[] = [];
    const m = new TimeMerge<{ time: Timestamp; id: string }>({ follow: false, sortBufferLenMax: 100, drainTimeoutMs: 1, perSourceMax: 4, emit: (i) => (out.push(i.id), open), done: () => undefined });
    const a = m.add(() => paused.push(true), () => paused.push(false));
    m.seal();
    for (let t = 1; t <= 6; t++) a.push(at(t));
    expect(out).to.deep.equal(['1']);
    expect(paused).to.deep.equal([true]);
    open = true;
    m.resume();
    expect(out).to.deep.equal(['1', '2', '3', '4', '5', '6']);
    expect(paused).to.deep.equal([true, false]);
  });

  it('reads upstream\'s settings and names a bad one', function () {
    const c = relayConfig({ 'peer-service': 'hubble-peer.kube-system.svc.cluster.local.:443', 'sort-buffer-drain-timeout': '1s', gops: 'true', 'disable-client-tls': 'true' }, ['--listen-address=127.0.0.1:4245']);
    expect(c).to.include({ peerService: 'hubble-peer.kube-system.svc.cluster.local.:443', listenAddress: '127.0.0.1:4245', sortBufferLenMax: 100, sortBufferDrainTimeoutMs: 1000, retryTimeoutMs: 30_000 });
    expect(() => relayConfig({}, ['--sort-buffer-len-max=none'])).to.throw(ConfigError, /sort-buffer-len-max/);
    expect(() => relayConfig({ 'tls-hubble-client-cert-file': '/x' }, [])).to.throw(ConfigError, /tls-hubble-client-cert-file/);
    expect(() => relayConfig({ 'peer-servce': 'x' }, [])).to.throw(ConfigError, /peer-servce/);
  });
});

function timeNs(t: Timestamp): number {
  return t.seconds * 1e9 + t.nanos;
}
