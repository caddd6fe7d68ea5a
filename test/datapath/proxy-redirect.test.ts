// BPF_PROG_TEST_RUN over the endpoint programs: flows whose entry has a proxy port are handed to the
// node's stack for the proxy (mark `port << 16 | 0x200`; on the pod's ingress also turned back into
// the veth's ingress, MACs swapped), their replies too, and the proxies' own packets are not.
import { expect } from 'chai';
import { native } from '../../datapath/native.ts';
import { ipv4ToNumber } from '../../datapath/net.ts';
import type { LoadedEndpoint } from '../../datapath/loader.ts';
import { policyEntries } from '../../datapath/maps/policy.ts';
import { MARK_MAGIC_PROXY_EGRESS, MARK_MAGIC_PROXY_INGRESS, proxyMark } from '../../envoy/proxy-marks.ts';
import { buildPacket, TCP, type PacketSpec } from './support/packets.ts';
import { requireBpf } from './support/env.ts';
import { testEndpoint } from './support/test-endpoint.ts';

const OK = 0;
const REDIRECT = 7;
const POD = '10.0.1.2';
const PEER = '10.0.1.3';
const PEER_IDENTITY = 1000;
const SKB_CTX_SIZE = 192;
const MARK_OFFSET = 8;
const HOST_MAC = Buffer.from('0200000000aa', 'hex');
const POD_MAC = Buffer.from('0200000000bb', 'hex');

describe('datapath: redirect to the L7 proxies (BPF_PROG_TEST_RUN)', function () {
  let ep: LoadedEndpoint;

  before(function () {
    requireBpf(this);
  });

  beforeEach(function () {
    ep = testEndpoint(43, 5000, { [POD]: 5000, [PEER]: PEER_IDENTITY });
    ep.maps.policy.updateBatch([
      ...policyEntries({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, port: 80, proxyPort: 15000, entryId: 1 }),
      ...policyEntries({ direction: 'egress', identity: PEER_IDENTITY, protocol: 6, port: 8080, proxyPort: 15001, entryId: 2 }),
    ]);
  });

  afterEach(function () {
    ep?.close();
  });

  /** Runs a program on a frame from `srcMac` to `dstMac` with skb mark `mark`: the action, the mark after, the frame after. */
  const run = (prog: number, spec: PacketSpec, mark: number, [srcMac, dstMac]: Buffer[]) => {
    const frame = buildPacket(spec);
    dstMac!.copy(frame, 0);
    srcMac!.copy(frame, 6);
    const ctx = Buffer.alloc(SKB_CTX_SIZE);
    ctx.writeUInt32LE(mark, MARK_OFFSET);
    const r = native().progTestRun(prog, frame, { ctx });
    return { action: r.retval, mark: r.ctx!.readUInt32LE(MARK_OFFSET), dstMac: r.data.subarray(0, 6).toString('hex') };
  };
  const toPod = (spec: Partial<PacketSpec>, mark = 0) => run(ep.progs.toContainer, { src: PEER, dst: POD, proto: 'tcp', ...spec }, mark, [HOST_MAC, POD_MAC]);
  const fromPod = (spec: Partial<PacketSpec>, mark = 0) => run(ep.progs.fromContainer, { src: POD, dst: PEER, proto: 'tcp', ...spec }, mark, [POD_MAC, HOST_MAC]);

  it('turns an ingress flow back into the veth\'s ingress for the proxy, addressed to the host side', function () {
    expect(toPod({ sport: 40000, dport: 80 })).to.deep.equal({ action: REDIRECT, mark: proxyMark(15000), dstMac: HOST_MAC.toString('hex') });
    expect(toPod({ sport: 40000, dport: 80, flags: TCP.ACK })).to.include({ action: REDIRECT, mark: proxyMark(15000) });
    // The pod's answers (a reply of the proxied flow) go to the proxy's upstream connection.
    expect(fromPod({ sport: 80, dport: 40000, flags: TCP.SYN | TCP.ACK })).to.deep.include({ action: OK, mark: proxyMark(15000) });
  });

  it('delivers the ingress proxy\'s own upstream connection, and this node\'s egress proxy\'s (it judged the pod\'s ingress rules too)', function () {
    expect(toPod({ sport: 40001, dport: 80 }, MARK_MAGIC_PROXY_INGRESS)).to.deep.include({ action: OK, mark: MARK_MAGIC_PROXY_INGRESS });
    expect(toPod({ sport: 40002, dport: 80 }, MARK_MAGIC_PROXY_EGRESS)).to.deep.include({ action: OK, mark: MARK_MAGIC_PROXY_EGRESS });
    expect(toPod({ sport: 40002, dport: 80, flags: TCP.ACK }, MARK_MAGIC_PROXY_EGRESS)).to.deep.include({ action: OK, mark: MARK_MAGIC_PROXY_EGRESS });
  });

  it('marks an egress flow for the proxy, and hands its replies to the proxy unless the egress proxy sent them', function () {
    expect(fromPod({ sport: 40003, dport: 8080 })).to.deep.include({ action: OK, mark: proxyMark(15001) });
    expect(toPod({ sport: 8080, dport: 40003, flags: TCP.SYN | TCP.ACK })).to.include({ action: REDIRECT, mark: proxyMark(15001) });
    expect(toPod({ sport: 8080, dport: 40003, flags: TCP.ACK }, MARK_MAGIC_PROXY_EGRESS)).to.deep.include({ action: OK, mark: MARK_MAGIC_PROXY_EGRESS });
  });

  it('lets a packet it handed back pass the veth\'s ingress untouched', function () {
    expect(fromPod({ src: PEER, dst: POD, sport: 40004, dport: 80 }, proxyMark(15000))).to.deep.include({ action: OK, mark: proxyMark(15000) });
  });

  it('leaves flows without a proxy port alone', function () {
    ep.maps.policy.updateBatch(policyEntries({ direction: 'ingress', identity: PEER_IDENTITY, protocol: 6, port: 443, entryId: 3 }));
    expect(toPod({ sport: 40005, dport: 443 })).to.deep.equal({ action: OK, mark: 0, dstMac: POD_MAC.toString('hex') });
  });

  it('hands a reply to the proxy when another CPU touched the flow after the reply\'s clock was read', function () {
    expect(toPod({ sport: 40006, dport: 80 })).to.include({ action: REDIRECT, mark: proxyMark(15000) });
    const key = { saddr: ipv4ToNumber(PEER), daddr: ipv4ToNumber(POD), sport: 40006, dport: 80, proto: 6, dir: 1 };
    const entry = ep.maps.conntrack.lookup(key)!;
    // As a concurrent packet leaves it: last seen later than this packet's `now` (an hour ahead).
    ep.maps.conntrack.update(key, { ...entry, lastSeenNs: entry.lastSeenNs + 3_600_000_000_000n });
    expect(fromPod({ sport: 80, dport: 40006, flags: TCP.FIN | TCP.ACK })).to.deep.include({ action: OK, mark: proxyMark(15000) });
    // Not taken for a new flow of the pod's: no entry of its own that would shadow the proxied flow.
    const reverse = { saddr: ipv4ToNumber(POD), daddr: ipv4ToNumber(PEER), sport: 80, dport: 40006, proto: 6, dir: 2 };
    expect(ep.maps.conntrack.lookup(reverse)).to.equal(undefined);
  });
});
