// BPF_PROG_TEST_RUN over the load balancer's options: the ICMP reject of a frontend without backends,
// ClientIP session affinity, Maglev selection, two lookup scopes, and the node device's NodePort
// translation (DNAT to a local backend; DNAT+SNAT to a remote one, with the reply turned around).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { native } from '../../datapath/native.ts';
import { loadEndpoint, loadNetdev, type EndpointProgs, type LoadedEndpoint } from '../../datapath/loader.ts';
import { removePinDir } from '../../datapath/bpffs.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import {
  LB_PROTO, LB_SCOPE, SVC_FLAG, SVC_FLAG2, lbBackendValue, lbRevNatValue, lbServiceEntries, type L4Addr, type LbServiceRows,
} from '../../datapath/maps/lb.ts';
import { DropReason } from '../../datapath/constants.ts';
import { maglevTable } from '../../agent/lb-maglev.ts';
import { buildPacket, checksumsValid, endpointsOf, TCP, withChecksums, type PacketSpec } from './support/packets.ts';
import { requireBpf } from './support/env.ts';

const OK = 0;
const REDIRECT = 7;
const POD = '10.0.1.2';
const POD2 = '10.0.1.3';
const VIP = '10.96.0.10';
const B1 = '10.0.2.5';
const B2 = '10.0.3.6';
const NODE = '172.29.9.10';
const CLIENT = '172.29.9.1';
const MAGLEV_M = 251;
const tcp = (ip: string, port: number): L4Addr => ({ ip, port, proto: LB_PROTO.TCP });

/** One's-complement sum check over a byte range (a valid checksum sums to 0xffff). */
function sumsValid(buf: Buffer, start: number, end: number): boolean {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

describe('load-balancer options (BPF_PROG_TEST_RUN)', function () {
  let ep: LoadedEndpoint;
  let netdev: EndpointProgs | undefined;
  let pinRoot: string;

  const service = (rows: Partial<LbServiceRows> & { backendIds: number[] }, frontend = tcp(VIP, 80)) => {
    const s: LbServiceRows = { frontend, scope: LB_SCOPE.EXT, revNatIndex: 7, flags: 0, flags2: 0, affinityTimeoutSec: 0, ...rows };
    ep.maps.lb.revNat.update(s.revNatIndex, lbRevNatValue(frontend));
    ep.maps.lb.services.updateBatch(lbServiceEntries(s));
    return s;
  };

  before(function () {
    requireBpf(this);
  });

  beforeEach(function () {
    pinRoot = `/sys/fs/bpf/ciliate-test-lb-${randomBytes(4).toString('hex')}`;
    ep = loadEndpoint({ endpointId: 44, identity: 5000, maglevTableSize: MAGLEV_M }, {
      pinRoot,
      maxEntries: { cilium_ct4_global: 4096, cilium_drop_aggr: 4096, cilium_lb4_ct: 4096, cilium_lb4_services_v2: 256, cilium_lb4_backends_v3: 256, cilium_lb4_reverse_nat: 256, cilium_lb4_nodeport_nat: 1024, cilium_lb4_affinity: 256 },
    });
    ep.maps.ipcache.updateBatch([ipcacheEntry(`${POD}/32`, 5000), ipcacheEntry(`${POD2}/32`, 5001), ipcacheEntry(`${B1}/32`, 6000), ipcacheEntry(`${B2}/32`, 6000)]);
    ep.maps.lb.backends.updateBatch([[1, lbBackendValue(tcp(B1, 8080), true)], [2, lbBackendValue(tcp(B2, 8080))]]);
  });

  afterEach(function () {
    ep?.close();
    if (netdev) for (const fd of [netdev.fromContainer, netdev.toContainer]) native().fdClose(fd);
    netdev = undefined;
    removePinDir(pinRoot);
  });

  const run = (prog: number, p: PacketSpec) => native().progTestRun(prog, withChecksums(buildPacket(p)));
  const fromPod = (p: Partial<PacketSpec>) => run(ep.progs.fromContainer, { src: POD, dst: VIP, proto: 'tcp', dport: 80, ...p });
  const backendOf = (p: Partial<PacketSpec>) => endpointsOf(fromPod(p).data).dst;

  it('answers a connection to a frontend without backends with ICMP port unreachable, and counts the drop', function () {
    service({ backendIds: [] });
    const sent = withChecksums(buildPacket({ src: POD, dst: VIP, proto: 'tcp', sport: 41000, dport: 80 }));
    sent.write('020000000001', 0, 'hex');
    sent.write('020000000002', 6, 'hex');
    const r = native().progTestRun(ep.progs.fromContainer, sent);
    expect(r.retval).to.equal(REDIRECT);
    const out = r.data;
    expect(out.subarray(0, 6).toString('hex')).to.equal('020000000002');
    expect(out.subarray(6, 12).toString('hex')).to.equal('020000000001');
    expect(out[14 + 9]).to.equal(1);
    expect(endpointsOf(out).src.split(':')[0]).to.equal(VIP);
    expect(endpointsOf(out).dst.split(':')[0]).to.equal(POD);
    expect([out[34], out[35]]).to.deep.equal([3, 3]);
    expect(out.subarray(42, 42 + 28).equals(sent.subarray(14, 14 + 28))).to.equal(true);
    expect(sumsValid(out, 14, 34), 'ip checksum').to.equal(true);
    expect(sumsValid(out, 34, out.length), 'icmp checksum').to.equal(true);
    const drops = ep.maps.metrics.entries().filter(([k]) => k.reason === DropReason.NO_SERVICE);
    expect(drops).to.have.length(1);
  });

  it('keeps a client on its backend with ClientIP affinity, until that backend stops serving the service', function () {
    service({ backendIds: [1, 2], flags: SVC_FLAG.AFFINITY, affinityTimeoutSec: 100 });
    ep.maps.lb.affinityMatch.updateBatch([[{ backendId: 1, revNatId: 7 }, 1], [{ backendId: 2, revNatId: 7 }, 1]]);
    const first = backendOf({ sport: 42000 });
    for (let sport = 42001; sport < 42040; sport++) expect(backendOf({ sport })).to.equal(first);
    // The backend leaves the service: its slot and its affinity pair go; the client moves on and stays.
    const gone = first.startsWith(B1) ? 1 : 2;
    ep.maps.lb.affinityMatch.delete({ backendId: gone, revNatId: 7 });
    ep.maps.lb.services.delete(lbServiceEntries({ frontend: tcp(VIP, 80), scope: 0, revNatIndex: 7, flags: 0, flags2: 0, affinityTimeoutSec: 0, backendIds: [1, 2] })[2]![0]);
    service({ backendIds: [3 - gone], flags: SVC_FLAG.AFFINITY, affinityTimeoutSec: 100 });
    const seen = new Set<string>();
    for (let sport = 42100; sport < 42140; sport++) seen.add(backendOf({ sport }));
    expect(seen.size).to.equal(1);
    expect([...seen][0]).to.not.equal(first);
  });

  it('picks by Maglev: the same tuple gets the same backend even without flow state; tuples spread', function () {
    service({ backendIds: [1, 2], flags2: SVC_FLAG2.MAGLEV });
    const table = maglevTable([`${B1}:8080/TCP`, `${B2}:8080/TCP`], [1, 2], MAGLEV_M);
    ep.maps.lb.maglev.updateBatch([...table].map((id, slot) => [{ revNatId: 7, slot }, id] as const));
    const seen = new Set<string>();
    for (let sport = 43000; sport < 43040; sport++) {
      const a = backendOf({ sport });
      ep.maps.lb.ct.deleteBatch(ep.maps.lb.ct.entries().map(([k]) => k));
      expect(backendOf({ sport })).to.equal(a);
      seen.add(a);
    }
    expect(seen.size).to.equal(2);
  });

  it('sends clients in the cluster to the internal scope of a two-scope frontend', function () {
    service({ backendIds: [1], flags: SVC_FLAG.NODEPORT | SVC_FLAG.EXT_LOCAL_SCOPE, flags2: SVC_FLAG2.TWO_SCOPES });
    service({ backendIds: [2], scope: LB_SCOPE.INT, flags: SVC_FLAG.NODEPORT, flags2: SVC_FLAG2.TWO_SCOPES });
    for (let sport = 44000; sport < 44020; sport++) expect(backendOf({ sport })).to.equal(`${B2}:8080`);
  });

  describe('node device (NodePort)', function () {
    const fromNet = (p: Partial<PacketSpec>) => run(netdev!.fromContainer, { src: CLIENT, dst: NODE, proto: 'tcp', sport: 45000, dport: 30080, ...p });
    const toNet = (p: PacketSpec) => run(netdev!.toContainer, p);

    beforeEach(function () {
      netdev = loadNetdev({ nodeIp: NODE, maglevTableSize: MAGLEV_M }, { pinRoot });
    });

    it('DNATs to a local backend and gives its reply the frontend back on the way out', function () {
      service({ backendIds: [1], flags: SVC_FLAG.NODEPORT }, tcp(NODE, 30080));
      const r = fromNet({});
      expect(r.retval).to.equal(OK);
      expect(endpointsOf(r.data)).to.deep.equal({ src: `${CLIENT}:45000`, dst: `${B1}:8080` });
      expect(checksumsValid(r.data)).to.equal(true);
      const reply = toNet({ src: B1, dst: CLIENT, proto: 'tcp', sport: 8080, dport: 45000, flags: TCP.SYN | TCP.ACK });
      expect(reply.retval).to.equal(OK);
      expect(endpointsOf(reply.data)).to.deep.equal({ src: `${NODE}:30080`, dst: `${CLIENT}:45000` });
      expect(checksumsValid(reply.data)).to.equal(true);
    });

    it('DNATs and SNATs to a remote backend, and turns its reply around to the client', function () {
      service({ backendIds: [2], flags: SVC_FLAG.NODEPORT }, tcp(NODE, 30080));
      const r = fromNet({ sport: 45100 });
      expect(r.retval).to.equal(REDIRECT);
      const out = endpointsOf(r.data);
      expect(out.dst).to.equal(`${B2}:8080`);
      expect(out.src.split(':')[0]).to.equal(NODE);
      expect(checksumsValid(r.data)).to.equal(true);
      const natPort = Number(out.src.split(':')[1]);
      const back = run(netdev!.fromContainer, { src: B2, dst: NODE, proto: 'tcp', sport: 8080, dport: natPort, flags: TCP.SYN | TCP.ACK });
      expect(back.retval).to.equal(REDIRECT);
      expect(endpointsOf(back.data)).to.deep.equal({ src: `${NODE}:30080`, dst: `${CLIENT}:45100` });
      expect(checksumsValid(back.data)).to.equal(true);
      // The next packet of the flow keeps its translation.
      expect(endpointsOf(fromNet({ sport: 45100, flags: TCP.ACK }).data).src).to.equal(`${NODE}:${natPort}`);
    });

    it('leaves a ClusterIP alone from outside and rejects a NodePort without backends', function () {
      service({ backendIds: [1] });
      const plain = withChecksums(buildPacket({ src: CLIENT, dst: VIP, proto: 'tcp', sport: 45200, dport: 80 }));
      const r = native().progTestRun(netdev!.fromContainer, plain);
      expect(r.retval).to.equal(OK);
      expect(r.data.equals(plain)).to.equal(true);
      service({ backendIds: [], flags: SVC_FLAG.NODEPORT, revNatIndex: 8 }, tcp(NODE, 30081));
      const rej = fromNet({ dport: 30081 });
      expect(rej.retval).to.equal(REDIRECT);
      expect(rej.data[14 + 9]).to.equal(1);
    });
  });
});
