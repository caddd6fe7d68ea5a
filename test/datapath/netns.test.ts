// Real traffic: pod A -> node namespace -> pod B, with the endpoint programs on B's host-side veth.
// A map update from TypeScript flips TCP between blocked and allowed; the drop event reaches JS.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { loadEndpoint, mapPinPath, type LoadedEndpoint } from '../../datapath/loader.ts';
import { attachEndpoint, InterfaceAttachment } from '../../datapath/attach.ts';
import { inNetns } from '../../datapath/netns.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries, setEnforcement, type PolicyRule } from '../../datapath/maps/policy.ts';
import { FlowEventReader, type FlowEvent } from '../../datapath/events.ts';
import { makePinDir, removePinDir } from '../../datapath/bpffs.ts';
import { requireBpf } from './support/env.ts';
import { createTopology, nsSpawn, sh, tcpConnects, type Topology } from './support/netns.ts';
import { existsSync, mkdirSync } from 'node:fs';

const A_IDENTITY = 1000;
const B_IDENTITY = 5000;
const PORT = 8080;

async function waitFor<T>(fn: () => T | undefined, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('datapath in network namespaces', function () {
  this.timeout(60_000);
  let topo: Topology | undefined;
  let ep: LoadedEndpoint | undefined;
  let ep2: LoadedEndpoint | undefined;
  let att: InterfaceAttachment | undefined;
  let server: ChildProcess | undefined;
  let reader: FlowEventReader | undefined;
  let pinRoot = '';
  const events: FlowEvent[] = [];

  before(async function () {
    requireBpf(this);
    topo = createTopology();
    pinRoot = makePinDir(`ciliate-test-${topo.suffix}`);
    ep = loadEndpoint({ endpointId: 7, identity: B_IDENTITY, aggregationIntervalNs: 100_000_000n }, {
      pinRoot, maxEntries: { cilium_ct4_global: 16384, cilium_drop_aggr: 4096 },
    });
    ep.maps.ipcache.updateBatch([ipcacheEntry(`${topo.ipA}/32`, A_IDENTITY), ipcacheEntry(`${topo.ipB}/32`, B_IDENTITY)]);
    setEnforcement(ep.maps.policyConfig, true, false);
    const t = topo;
    const progs = ep.progs;
    att = inNetns(t.nodePath, () => attachEndpoint(t.ifindexB, progs));
    reader = new FlowEventReader(ep.maps.eventsFd, (evs) => events.push(...evs), { intervalMs: 20 });
    server = nsSpawn(topo.podB, 'nc', '-lk', String(PORT));
    await new Promise((r) => setTimeout(r, 300));
  });

  after(function () {
    reader?.close();
    server?.kill('SIGKILL');
    const t = topo;
    if (att && t) inNetns(t.nodePath, () => att?.detach());
    ep2?.close();
    ep?.close();
    topo?.destroy();
    if (pinRoot) removePinDir(pinRoot);
  });

  const rule: PolicyRule = { direction: 'ingress', identity: A_IDENTITY, protocol: 6, port: PORT, entryId: 3 };

  it('attaches with tcx and pins maps under the per-run directory', function () {
    expect(att?.mode).to.equal('tcx');
    expect(existsSync(mapPinPath(pinRoot, 'cilium_ipcache', 7))).to.equal(true);
    expect(existsSync(mapPinPath(pinRoot, 'cilium_policy_v2', 7))).to.equal(true);
  });

  it('blocks TCP under default deny and reports the drop with reason 133', async function () {
    const t = topo!;
    expect(tcpConnects(t.podA, t.ipB, PORT)).to.equal(false);
    const drop = await waitFor(() => events.find((e) => e.type === 'DROP' && e.dstPort === PORT), 2000);
    expect(drop, 'drop event').to.not.equal(undefined);
    expect(drop).to.include({
      dropReason: 133, dropReasonDesc: 'Policy denied', direction: 'INGRESS', srcIp: t.ipA, dstIp: t.ipB,
      srcIdentity: A_IDENTITY, dstIdentity: B_IDENTITY, protocol: 6, ifindex: t.ifindexB, endpointId: 7,
    });
  });

  it('allows TCP once the policy map has the rule, and blocks again when it is removed', async function () {
    const t = topo!;
    ep!.maps.policy.updateBatch(policyEntries(rule));
    expect(tcpConnects(t.podA, t.ipB, PORT, 2)).to.equal(true);
    const verdict = await waitFor(() => events.find((e) => e.type === 'POLICY_VERDICT' && e.entryId === 3), 2000);
    expect(verdict).to.include({ matchType: 'L3_L4', verdict: 'FORWARDED', srcIdentity: A_IDENTITY, dstPort: PORT });
    ep!.maps.policy.deleteBatch(policyEntries(rule).map(([k]) => k));
    expect(tcpConnects(t.podA, t.ipB, PORT)).to.equal(false);
  });

  it('replaces the programs atomically with a reload that reuses the pinned maps', function () {
    const t = topo!;
    ep!.maps.policy.updateBatch(policyEntries(rule));
    ep2 = loadEndpoint({ endpointId: 7, identity: B_IDENTITY }, { pinRoot, maxEntries: { cilium_ct4_global: 16384, cilium_drop_aggr: 4096 } });
    expect(ep2.maps.policy.entries()).to.have.length(1);
    const progs = ep2.progs;
    inNetns(t.nodePath, () => att!.replace(progs));
    expect(tcpConnects(t.podA, t.ipB, PORT, 2)).to.equal(true);
  });

  it('keeps pinned tcx links attached across a release and re-adopts them', function () {
    const t = topo!;
    const dir = `${pinRoot}/links-${t.lxcB}`;
    mkdirSync(dir);
    inNetns(t.nodePath, () => att!.pin(dir));
    att!.release();
    expect(tcpConnects(t.podA, t.ipB, PORT, 2)).to.equal(true);
    att = InterfaceAttachment.openPinned(dir, t.ifindexB);
    ep!.maps.policy.deleteBatch(policyEntries(rule).map(([k]) => k));
    expect(tcpConnects(t.podA, t.ipB, PORT)).to.equal(false);
  });

  it('falls back to clsact filters: attach, replace in place, detach', function () {
    const t = topo!;
    const filters = (): string => sh('ip', 'netns', 'exec', t.node, 'tc', 'filter', 'show', 'dev', t.lxcA, 'ingress');
    const progs = ep!.progs;
    const cls = inNetns(t.nodePath, () => attachEndpoint(t.ifindexA, progs, 'clsact'));
    try {
      expect(cls.mode).to.equal('clsact');
      expect(filters()).to.match(/bpf .*direct-action/);
      inNetns(t.nodePath, () => cls.replace(ep2?.progs ?? progs));
      expect(filters().match(/handle 0x1 /g)?.length).to.equal(1);
    } finally {
      inNetns(t.nodePath, () => cls.detach());
    }
    expect(filters()).to.not.match(/bpf/);
  });
});
