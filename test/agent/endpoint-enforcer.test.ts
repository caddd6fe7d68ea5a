// The enforcer on real namespaces, veths and TCP: policy from the engine flips traffic, drops carry
// their reason, and an agent restart (enforcer closed, a new one restored from pins) keeps enforcing
// and loses no established connection.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNetns } from '../../datapath/netns.ts';
import { makePinDir, removePinDir } from '../../datapath/bpffs.ts';
import { FlowEventReader, type FlowEvent } from '../../datapath/events.ts';
import { DropReason } from '../../datapath/constants.ts';
import { native } from '../../datapath/native.ts';
import { buildPacket, skbOnInterface, TCP } from '../datapath/support/packets.ts';
import { PolicyEngine } from '../../policy/engine.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { sanitizePodLabels } from '../../identity/pod-labels.ts';
import { nopLogger } from '../../runtime/logger.ts';
import { EndpointEnforcer, policyMapName, type EndpointRequest } from '../../agent/endpoint-enforcer.ts';
import { KernelTables } from '../../agent/kernel-tables.ts';
import { Registry } from 'prom-client';
import { requireBpf } from '../datapath/support/env.ts';
import { echoServer, streamClient } from '../support/tcp-programs.ts';
import { createTopology, nsSpawn, tcpConnects, type Topology } from '../datapath/support/netns.ts';

const PORT = 8080;

function policy(allowFrom: string) {
  return parsePolicy({
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'server-ingress', namespace: 'default', uid: 'u1' },
    spec: {
      endpointSelector: { matchLabels: { app: 'server' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: allowFrom } }], toPorts: [{ ports: [{ port: String(PORT), protocol: 'TCP' }] }] }],
    },
  });
}

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((r) => p.once('close', (code) => r(code)));
}

describe('endpoint enforcer on real namespaces and TCP', function () {
  this.timeout(60_000);
  let topo: Topology;
  let pinRoot = '';
  let stateDir = '';
  let server: ChildProcess | undefined;
  let enforcer: EndpointEnforcer | undefined;
  let engine: PolicyEngine;
  const labels: Record<'client' | 'server', Record<string, string>> = { client: { app: 'client' }, server: { app: 'server' } };
  const identities = new Map([['client', 30001], ['server', 30002]]);
  let requests: Record<'client' | 'server', EndpointRequest>;

  const podFactsOf = async (name: string) => ({ labels: sanitizePodLabels({ namespace: 'default', podLabels: labels[name as 'client' | 'server'] }) });
  /** Counts what the refreshes repair, as the agent's metrics do. */
  let registry = new Registry();
  let kernelTables = new KernelTables(nopLogger);
  const newEnforcer = (policyMapMax?: number): EndpointEnforcer => {
    engine = new PolicyEngine();
    registry = new Registry();
    kernelTables = new KernelTables(nopLogger);
    kernelTables.registerMetrics(registry);
    return new EndpointEnforcer({
      pinRoot, stateDir, engine, log: nopLogger, kernelTables, ...(policyMapMax ? { policyMapMax } : {}),
      maxEntries: { cilium_ct4_global: 16384, cilium_drop_aggr: 4096 },
      inNodeNetns: (fn) => inNetns(topo.nodePath, fn),
      podFacts: async (_ns, name) => podFactsOf(name),
      allocateIdentity: async (ls) => identities.get(ls.find('k8s', 'app')[0]!.value)!,
    }).open();
  };
  const addBoth = async (e: EndpointEnforcer) => {
    await e.add(requests.server);
    await e.add(requests.client);
  };

  before(async function () {
    requireBpf(this);
    topo = createTopology();
    pinRoot = makePinDir(`ciliate-enforcer-${topo.suffix}`);
    stateDir = mkdtempSync(join(tmpdir(), 'ciliate-enforcer-'));
    requests = {
      server: { key: 'srv/eth0', ip: topo.ipB, hostIf: topo.lxcB, podNamespace: 'default', podName: 'server', containerId: 'srv' },
      client: { key: 'cli/eth0', ip: topo.ipA, hostIf: topo.lxcA, podNamespace: 'default', podName: 'client', containerId: 'cli' },
    };
    server = nsSpawn(topo.podB, 'python3', '-c', echoServer(PORT));
    await new Promise((r) => setTimeout(r, 400));
    enforcer = newEnforcer();
    await addBoth(enforcer);
  });

  after(() => {
    server?.kill('SIGKILL');
    if (enforcer) {
      for (const ep of enforcer.endpoints()) enforcer.remove(ep.request.key);
      enforcer.close();
    }
    topo?.destroy();
    if (pinRoot) removePinDir(pinRoot);
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('lets traffic through while no policy selects the server', () => {
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(true);
  });

  it('drops the client once a policy allows only others, with reason policy-denied', async () => {
    const events: FlowEvent[] = [];
    const reader = new FlowEventReader(enforcer!.sharedMaps.eventsFd, (evs) => events.push(...evs), { intervalMs: 20 });
    try {
      enforcer!.applyDiffs(engine.upsertPolicy(policy('someone-else')));
      expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      reader.close();
    }
    const drop = events.find((e) => e.type === 'DROP' && e.dstPort === PORT);
    expect(drop).to.include({ dropReason: DropReason.POLICY_DENIED, srcIdentity: 30001, dstIdentity: 30002 });
  });

  it('lets the client through when the policy allows it', () => {
    enforcer!.applyDiffs(engine.upsertPolicy(policy('client')));
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(true);
  });

  it('keeps enforcing across an agent restart and loses no established connection', async () => {
    const stream = spawn('nsenter', [`--net=/run/netns/${topo.podA}`, 'python3', '-c', streamClient(topo.ipB, PORT, 120)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const done = exited(stream);
    let out = '';
    stream.stdout?.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 500));
    // The agent stops: fds released, kernel state left in place.
    enforcer!.close();
    enforcer = undefined;
    expect(tcpConnects(topo.podA, topo.ipB, PORT), 'still allowed while no agent runs').to.equal(true);
    // A new agent comes back and restores from the pins, with the same policy.
    const restarted = newEnforcer();
    restarted.applyDiffs(engine.upsertPolicy(policy('client')));
    await addBoth(restarted);
    enforcer = restarted;
    expect(restarted.reconcile().pruned).to.equal(0);
    expect(await done).to.equal(0);
    expect(out).to.contain('done');
    // And it enforces changes again.
    enforcer.applyDiffs(engine.upsertPolicy(policy('someone-else')));
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
  });

  it('serves every endpoint from one shared program pair, finding each by its interface', () => {
    const eps = enforcer!.endpoints();
    expect(eps).to.have.length(2);
    const info = enforcer!.sharedMaps.endpointInfo;
    for (const ep of eps) expect(info.lookup(ep.ifindex)).to.deep.equal({ endpointId: ep.id, identity: ep.identity });
  });

  it('keeps spare endpoint slots ready on a worker thread, their maps registered with the shared programs', async () => {
    for (let i = 0; i < 200 && enforcer!.spareIds().length < 16; i++) await new Promise((r) => setTimeout(r, 50));
    const spares = enforcer!.spareIds();
    expect(spares).to.have.length(16);
    const taken = new Set(enforcer!.endpoints().map((e) => e.id));
    for (const id of spares) {
      expect(taken.has(id)).to.equal(false);
      expect(enforcer!.sharedMaps.outer.policy.lookup(id)).to.be.a('number');
      expect(enforcer!.sharedMaps.outer.policyConfig.lookup(id)).to.be.a('number');
    }
  });

  it('drops a packet on an interface it does not know with reason 152, naming no rule', () => {
    const pkt = buildPacket({ src: topo.ipA, dst: topo.ipB, proto: 'tcp', sport: 40000, dport: PORT, flags: TCP.SYN });
    const res = inNetns(topo.nodePath, () => native().progTestRun(enforcer!.programs.toContainer, pkt, skbOnInterface(1)));
    expect(res.retval).to.equal(2); // TC_ACT_SHOT
    const counted = enforcer!.sharedMaps.metrics.entries().some(([k]) => k.reason === DropReason.NO_LXC);
    expect(counted).to.equal(true);
  });

  it('repairs a lost interface row, outer row and policy row at the next refresh, counting them', async () => {
    const ep = enforcer!.endpoints().find((e) => e.request.podName === 'server')!;
    enforcer!.sharedMaps.endpointInfo.delete(ep.ifindex);
    enforcer!.sharedMaps.outer.policy.delete(ep.id);
    const [someKey] = ep.maps.policy.entries()[0]!;
    ep.maps.policy.delete(someKey);
    const drift = async () => (await registry.getSingleMetric('ciliate_datapath_drift_repairs_total')!.get()).values[0]?.value ?? 0;
    const driftBefore = await drift();
    expect(enforcer!.reconcile().repaired).to.be.greaterThan(0);
    const metrics = await registry.metrics();
    expect(metrics).to.contain('ciliate_reconciler_refresh_total{table="ciliate_endpoint_info",action="repaired"} 1');
    expect(metrics).to.match(new RegExp(`ciliate_reconciler_refresh_total\\{table="${policyMapName(ep.id)}",action="repaired"\\} 1`));
    expect(metrics).to.contain('ciliate_reconciler_refresh_total{table="ciliate_policy_maps",action="repaired"} 1');
    expect(await drift()).to.equal(driftBefore + 3);
    expect(enforcer!.sharedMaps.endpointInfo.lookup(ep.ifindex)).to.deep.equal({ endpointId: ep.id, identity: ep.identity });
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
    enforcer!.applyDiffs(engine.upsertPolicy(policy('client')));
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(true);
  });

  it('a write failing for one endpoint leaves the others converged, and its retry writes it once there is room', async () => {
    const server = enforcer!.endpoints().find((e) => e.request.podName === 'server')!;
    const client = enforcer!.endpoints().find((e) => e.request.podName === 'client')!;
    // Fault: the server's policy map is filled to capacity behind the agent's back.
    const map = server.maps.policy;
    const room = native().mapInfo(map.fd).maxEntries - map.entries().length;
    map.updateBatch(Array.from({ length: room }, (_, i) => [
      { prefixlen: 40, secLabel: 0x700000 + i, egress: 0, protocol: 0, dport: 0 }, { proxyPort: 0, flags: 0, prefixLen: 0, entryId: 1 },
    ] as const));
    // One policy change for both endpoints, the failing one first.
    const diffs = engine.upsertPolicy(parsePolicy({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'both-ingress', namespace: 'default', uid: 'u2' },
      spec: { endpointSelector: {}, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '9090', protocol: 'TCP' }] }] }] },
    }));
    expect([...diffs.keys()]).to.have.members([server.id, client.id]);
    enforcer!.applyDiffs(new Map([[server.id, diffs.get(server.id)!], [client.id, diffs.get(client.id)!]]));
    const has9090 = (ep: typeof server) => ep.maps.policy.entries().some(([k]) => k.dport === 9090 && k.secLabel === 30001);
    expect(enforcer!.policyErrors(server.id)).to.not.deep.equal([]);
    expect(enforcer!.policyErrors(server.id)[0]!.message).to.match(/cilium_policy_v2_\d{5}|space/i);
    expect(enforcer!.policyErrors(client.id)).to.deep.equal([]);
    expect(has9090(client), 'the other endpoint converged').to.equal(true);
    expect(has9090(server)).to.equal(false);
    expect(tcpConnects(topo.podA, topo.ipB, PORT), 'what was enforced stays').to.equal(true);
    // The refresh prunes the strangers, and the failed rows are retried into the room it made.
    expect(enforcer!.reconcile().pruned).to.be.at.least(room);
    for (let i = 0; i < 200 && enforcer!.policyErrors(server.id).length; i++) await new Promise((r) => setTimeout(r, 25));
    expect(enforcer!.policyErrors(server.id)).to.deep.equal([]);
    expect(has9090(server)).to.equal(true);
    enforcer!.applyDiffs(engine.deletePolicy('CiliumNetworkPolicy', 'default', 'both-ingress'));
    expect(has9090(server) || has9090(client)).to.equal(false);
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(true);
  });

  it('gives a relabelled endpoint its new identity without loading anything', async () => {
    const before = native().progInfo(enforcer!.programs.toContainer).id;
    labels.client = { app: 'other' };
    identities.set('other', 30003);
    try {
      expect(await enforcer!.relabel(requests.client.key, await podFactsOf('client'))).to.equal(true);
      const ep = enforcer!.endpoints().find((e) => e.request.podName === 'client')!;
      expect(ep.identity).to.equal(30003);
      expect(enforcer!.sharedMaps.endpointInfo.lookup(ep.ifindex)?.identity).to.equal(30003);
      expect(native().progInfo(enforcer!.programs.toContainer).id).to.equal(before);
      // The policy allows app=client only: the relabelled client is now denied.
      expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
    } finally {
      labels.client = { app: 'client' };
    }
  });

  it('refuses a new pod whose policy does not fit: its rows wait for an entry id (pending, not errors), and the ADD names why', async () => {
    // The server's pod is re-created under an agent allowing 3 policy entries per endpoint.
    enforcer!.remove(requests.server.key);
    enforcer!.close();
    enforcer = newEnforcer(4);
    engine.upsertPolicy(parsePolicy({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'many-ports', namespace: 'default', uid: 'u3' },
      spec: {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [8081, 8082, 8083, 8084, 8085].map((p) => ({ port: String(p), protocol: 'TCP' })) }] }],
      },
    }));
    // The client (its endpoint restored) makes its identity known, so the rule selects it.
    await enforcer.add(requests.client);
    let refused: Error | undefined;
    await enforcer.add(requests.server).catch((err: Error) => (refused = err));
    expect(refused?.message).to.match(/^policy of default\/server not written: \d+ rows of cilium_policy_v2_\d{5} not in the kernel \(waiting for an entry id: cilium_policy_v2_\d{5} full, bpf-policy-map-max allows 3 entries for this endpoint\)$/);
    expect(enforcer.endpoints().map((e) => e.request.podName)).to.not.include('server');
    // Nothing was refused by the kernel: no table counts an error.
    expect(kernelTables.health().status).to.equal('ok');
  });
});
