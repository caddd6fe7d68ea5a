// BPF_PROG_TEST_RUN over the endpoint programs: ICMP types matched by policy (as `icmps` rules are
// written into the map: the type in the port field), echo replies admitted through conntrack by
// their identifier, and frames that are neither IPv4 nor ARP dropped with upstream's reason 139.
import { expect } from 'chai';
import { native } from '../../datapath/native.ts';
import type { LoadedEndpoint } from '../../datapath/loader.ts';
import { policyEntries, setEnforcement, type PolicyRule } from '../../datapath/maps/policy.ts';
import { readMetrics } from '../../datapath/maps/metrics.ts';
import { FlowEventReader, type FlowEvent } from '../../datapath/events.ts';
import { DropReason, Direction, DROP_REASON_NAMES } from '../../datapath/constants.ts';
import { buildFrame, buildPacket } from './support/packets.ts';
import { requireBpf } from './support/env.ts';
import { testEndpoint } from './support/test-endpoint.ts';

const OK = 0;
const DROP = 2;
const POD = '10.0.1.2';
const PEER = '10.0.1.3';
const PEER_IDENTITY = 1000;
const ICMP = 1;
const ECHO = 8;
const ECHO_REPLY = 0;
const TIMESTAMP = 13;

describe('datapath: ICMP types and non-IPv4 frames (BPF_PROG_TEST_RUN)', function () {
  let ep: LoadedEndpoint;

  before(function () {
    requireBpf(this);
  });

  beforeEach(function () {
    ep = testEndpoint(43, 5000, { [POD]: 5000, [PEER]: PEER_IDENTITY });
  });

  afterEach(() => ep?.close());

  const rules = (...rs: PolicyRule[]): void => ep.maps.policy.updateBatch(rs.flatMap(policyEntries));
  const run = (prog: 'toContainer' | 'fromContainer', frame: Buffer): number => native().progTestRun(ep.progs[prog], frame).retval;
  const icmp = (dir: 'in' | 'out', icmpType: number, icmpId: number) => run(
    dir === 'in' ? 'toContainer' : 'fromContainer',
    buildPacket({ src: dir === 'in' ? PEER : POD, dst: dir === 'in' ? POD : PEER, proto: 'icmp', icmpType, icmpId }),
  );
  const drops = (reason: number, dir: number): bigint =>
    readMetrics(ep.maps.metrics).filter((r) => r.reason === reason && r.direction === dir).reduce((a, r) => a + r.packets, 0n);

  it('egress: an icmps rule for echo admits echo requests only, and their replies through conntrack', function () {
    rules({ direction: 'egress', identity: PEER_IDENTITY, protocol: ICMP, port: ECHO, entryId: 1 });
    expect(icmp('out', ECHO, 77), 'echo request').to.equal(OK);
    expect(icmp('in', ECHO_REPLY, 77), 'its reply').to.equal(OK);
    expect(icmp('in', ECHO_REPLY, 78), 'a reply nobody asked for').to.equal(DROP);
    expect(icmp('out', TIMESTAMP, 0), 'another type').to.equal(DROP);
    expect(drops(DropReason.POLICY_DENIED, Direction.EGRESS)).to.equal(1n);
  });

  it('ingress: type rules in both directions, a deny on one type beats an L3 allow', function () {
    rules(
      { direction: 'ingress', identity: PEER_IDENTITY, protocol: 0, entryId: 1 },
      { direction: 'ingress', identity: 0, protocol: ICMP, port: TIMESTAMP, deny: true, entryId: 2 },
    );
    expect(icmp('in', ECHO, 5), 'echo from the peer (L3 allow)').to.equal(OK);
    expect(icmp('in', TIMESTAMP, 0), 'timestamp (denied)').to.equal(DROP);
    expect(drops(DropReason.POLICY_DENY, Direction.INGRESS)).to.equal(1n);
  });

  it('drops IPv6 and other non-IPv4 frames with reason 139 in both directions, counted and reported; ARP passes', function () {
    const events: FlowEvent[] = [];
    const reader = new FlowEventReader(ep.maps.eventsFd, (evs) => events.push(...evs), { intervalMs: 10_000 });
    try {
      // Nothing is enforced: before this change such frames passed regardless.
      setEnforcement(ep.maps.policyConfig, false, false);
      expect(run('fromContainer', buildFrame(0x86dd)), 'IPv6 from the pod').to.equal(DROP);
      expect(run('toContainer', buildFrame(0x86dd)), 'IPv6 to the pod').to.equal(DROP);
      expect(run('fromContainer', buildFrame(0x8100)), 'a VLAN tag').to.equal(DROP);
      expect(run('fromContainer', buildFrame(0x0806)), 'ARP').to.equal(OK);
      expect(run('toContainer', buildFrame(0x0806)), 'ARP').to.equal(OK);
      reader.drain();
    } finally {
      reader.close();
    }
    expect(drops(DropReason.UNKNOWN_L3, Direction.EGRESS)).to.equal(2n);
    expect(drops(DropReason.UNKNOWN_L3, Direction.INGRESS)).to.equal(1n);
    expect(DROP_REASON_NAMES[DropReason.UNKNOWN_L3]).to.equal('Unsupported L3 protocol');
    const ipv6 = events.find((e) => e.type === 'DROP' && e.dropReason === DropReason.UNKNOWN_L3 && e.direction === 'EGRESS' && e.dstPort === 0x86dd);
    expect(ipv6, 'reported with the ethertype as destination port and the endpoint id as source port').to.include({ srcPort: 43 });
  });
});
