// BPF_PROG_TEST_RUN over the endpoint programs: one test per verdict path, plus counters and events.
import { expect } from 'chai';
import { native } from '../../datapath/native.ts';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries, readPolicyStats, setEnforcement, type PolicyRule } from '../../datapath/maps/policy.ts';
import { readMetrics, readEventStats } from '../../datapath/maps/metrics.ts';
import { FlowEventReader, type FlowEvent } from '../../datapath/events.ts';
import { DropReason, Direction } from '../../datapath/constants.ts';
import { buildPacket, TCP, type PacketSpec } from './support/packets.ts';
import { requireBpf } from './support/env.ts';

const OK = 0;
const DROP = 2;
const POD = '10.0.1.2';
const POD_IDENTITY = 5000;
const PEER = '10.0.1.3';
const PEER_IDENTITY = 1000;
const OTHER = '10.0.1.4';
const OTHER_IDENTITY = 2000;

describe('datapath verdicts (BPF_PROG_TEST_RUN)', function () {
  let ep: LoadedEndpoint;

  before(function () {
    requireBpf(this);
  });

  beforeEach(function () {
    ep = loadEndpoint({ endpointId: 42, identity: POD_IDENTITY }, {
      maxEntries: { cilium_ct4_global: 4096, cilium_drop_aggr: 4096 },
    });
    ep.maps.ipcache.updateBatch([ipcacheEntry(`${POD}/32`, POD_IDENTITY), ipcacheEntry(`${PEER}/32`, PEER_IDENTITY), ipcacheEntry(`${OTHER}/32`, OTHER_IDENTITY)]);
    setEnforcement(ep.maps.policyConfig, true, true);
  });

  afterEach(function () {
    ep?.close();
  });

  const rules = (...rs: PolicyRule[]): void => ep.maps.policy.updateBatch(rs.flatMap(policyEntries));
  const toPod = (p: Partial<PacketSpec>): number =>
    native().progTestRun(ep.progs.toContainer, buildPacket({ src: PEER, dst: POD, proto: 'tcp', ...p })).retval;
  const fromPod = (p: Partial<PacketSpec>): number =>
    native().progTestRun(ep.progs.fromContainer, buildPacket({ src: POD, dst: PEER, proto: 'tcp', ...p })).retval;
  const drops = (reason: number, dir: number): bigint =>
    readMetrics(ep.maps.metrics).filter((r) => r.reason === reason && r.direction === dir).reduce((a, r) => a + r.packets, 0n);

  it('allows a peer identity on an allowed port and counts the entry', function () {
    rules({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, port: 80, entryId: 7 });
    expect(toPod({ dport: 80 })).to.equal(OK);
    expect(readPolicyStats(ep.maps.policyStats, 7).packets).to.equal(1n);
    expect(drops(0, Direction.INGRESS)).to.equal(1n);
  });

  it('drops by default deny with reason 133 when nothing matches', function () {
    rules({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, port: 80, entryId: 1 });
    expect(toPod({ dport: 81 })).to.equal(DROP);
    expect(toPod({ src: OTHER, dport: 80 })).to.equal(DROP);
    expect(drops(DropReason.POLICY_DENIED, Direction.INGRESS)).to.equal(2n);
  });

  it('passes everything when the direction is not enforced', function () {
    setEnforcement(ep.maps.policyConfig, false, true);
    expect(toPod({ dport: 9999 })).to.equal(OK);
    expect(fromPod({ sport: 40001, dport: 9999 })).to.equal(DROP);
  });

  it('lets an explicit deny beat a more specific allow (reason 181)', function () {
    rules(
      { direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, port: 80, entryId: 1 },
      { direction: 'ingress', identity: 0, protocol: 6, port: 80, deny: true, entryId: 2 },
      { direction: 'ingress', identity: OTHER_IDENTITY, protocol: 0, deny: true, entryId: 3 },
      { direction: 'ingress', identity: 0, protocol: 6, port: 443, entryId: 4 },
    );
    expect(toPod({ dport: 80 })).to.equal(DROP);
    expect(toPod({ src: OTHER, dport: 443 })).to.equal(DROP);
    expect(toPod({ dport: 443 })).to.equal(OK);
    expect(drops(DropReason.POLICY_DENY, Direction.INGRESS)).to.equal(2n);
  });

  it('matches a wildcard port for one protocol', function () {
    rules({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, entryId: 1 });
    expect(toPod({ dport: 4444 })).to.equal(OK);
    expect(toPod({ dport: 22, sport: 40002 })).to.equal(OK);
    expect(toPod({ proto: 'udp', dport: 53 })).to.equal(DROP);
  });

  it('matches port ranges expressed as prefixes', function () {
    rules({ direction: 'ingress', identity: 0, protocol: 6, port: 8000, endPort: 8100, entryId: 1 });
    for (const port of [8000, 8050, 8100]) expect(toPod({ dport: port }), `port ${port}`).to.equal(OK);
    for (const port of [7999, 8101, 80]) expect(toPod({ dport: port }), `port ${port}`).to.equal(DROP);
  });

  it('allows L3-only rules for every protocol and port of that identity', function () {
    rules({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 0, entryId: 1 });
    expect(toPod({ proto: 'udp', dport: 53 })).to.equal(OK);
    expect(toPod({ proto: 'icmp' })).to.equal(OK);
    expect(toPod({ dport: 5432 })).to.equal(OK);
    expect(toPod({ src: OTHER, dport: 5432 })).to.equal(DROP);
  });

  it('passes replies and established packets through conntrack', function () {
    rules({ direction: 'egress', identity: PEER_IDENTITY, protocol: 6, port: 443, entryId: 1 });
    expect(fromPod({ sport: 40100, dport: 443, flags: TCP.SYN })).to.equal(OK);
    // Reply: ingress is default deny with no rule, conntrack admits it.
    const reply = buildPacket({ src: PEER, dst: POD, proto: 'tcp', sport: 443, dport: 40100, flags: TCP.SYN | TCP.ACK });
    expect(native().progTestRun(ep.progs.toContainer, reply).retval).to.equal(OK);
    // Established forward packet even after the rule is gone.
    ep.maps.policy.deleteBatch(policyEntries({ direction: 'egress', identity: PEER_IDENTITY, protocol: 6, port: 443, entryId: 1 }).map(([k]) => k));
    expect(fromPod({ sport: 40100, dport: 443, flags: TCP.ACK })).to.equal(OK);
    // A new connection from the peer is not a reply.
    expect(toPod({ sport: 443, dport: 40101 })).to.equal(DROP);
    // A new connection from the pod without the rule is denied.
    expect(fromPod({ sport: 40102, dport: 443 })).to.equal(DROP);
    expect(ep.maps.conntrack.entries().length).to.equal(1);
    // SYN, reply and the established packet all count against the entry that admitted the flow.
    expect(readPolicyStats(ep.maps.policyStats, 1).packets).to.equal(3n);
  });

  it('resolves CIDR identities by longest prefix in the ipcache', function () {
    const cidrWide = 16777217;
    const cidrNarrow = 16777218;
    ep.maps.ipcache.updateBatch([ipcacheEntry('192.168.0.0/16', cidrWide), ipcacheEntry('192.168.5.0/24', cidrNarrow)]);
    rules({ direction: 'egress', identity: cidrNarrow, protocol: 6, port: 443, entryId: 1 });
    expect(fromPod({ dst: '192.168.5.7', dport: 443 })).to.equal(OK);
    expect(fromPod({ dst: '192.168.6.1', dport: 443 })).to.equal(DROP);
    // Unknown addresses are world (2).
    rules({ direction: 'egress', identity: 2, protocol: 6, port: 443, entryId: 2 });
    expect(fromPod({ dst: '8.8.8.8', dport: 443 })).to.equal(OK);
  });

  it('emits aggregated flow events with verdict, reason, identities and 5-tuple', function () {
    const events: FlowEvent[] = [];
    const reader = new FlowEventReader(ep.maps.eventsFd, (evs) => events.push(...evs), { intervalMs: 10_000 });
    try {
      rules({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, port: 80, entryId: 9 });
      expect(toPod({ sport: 41000, dport: 80 })).to.equal(OK);
      for (let i = 0; i < 50; i++) expect(toPod({ src: OTHER, sport: 41001, dport: 81 })).to.equal(DROP);
      reader.drain();
    } finally {
      reader.close();
    }
    const verdict = events.find((e) => e.type === 'POLICY_VERDICT');
    expect(verdict).to.include({
      verdict: 'FORWARDED', matchType: 'L3_L4', direction: 'INGRESS', endpointId: 42, entryId: 9,
      srcIdentity: PEER_IDENTITY, dstIdentity: POD_IDENTITY, srcIp: PEER, dstIp: POD, srcPort: 41000, dstPort: 80, protocol: 6,
    });
    const dropsSeen = events.filter((e) => e.type === 'DROP');
    expect(dropsSeen).to.have.length(1, 'repeated drops of one flow are aggregated');
    expect(dropsSeen[0]).to.include({
      verdict: 'DROPPED', dropReason: 133, dropReasonDesc: 'Policy denied', srcIdentity: OTHER_IDENTITY,
      dstIdentity: POD_IDENTITY, srcIp: OTHER, dstPort: 81, direction: 'INGRESS', packets: 1,
    });
    expect(drops(DropReason.POLICY_DENIED, Direction.INGRESS)).to.equal(50n);
    expect(readEventStats(ep.maps.eventStats)).to.deep.equal({ lost: 0n, sent: 2n });
  });
});
