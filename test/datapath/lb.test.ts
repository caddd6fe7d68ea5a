// BPF_PROG_TEST_RUN over service translation: DNAT to a backend, reverse NAT of the reply, an
// established flow keeping its backend, and untouched traffic to ports the service does not expose.
import { expect } from 'chai';
import { native } from '../../datapath/native.ts';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { lbBackendValue, lbRevNatValue, lbServiceEntries, LB_PROTO, type LbServiceRows } from '../../datapath/maps/lb.ts';
import { buildPacket, checksumsValid, endpointsOf, TCP, withChecksums, type PacketSpec } from './support/packets.ts';
import { requireBpf } from './support/env.ts';

const OK = 0;
const POD = '10.0.1.2';
const VIP = '10.96.0.10';
const B1 = '10.0.2.5';
const B2 = '10.0.3.6';

describe('service translation (BPF_PROG_TEST_RUN)', function () {
  let ep: LoadedEndpoint;
  const backends = [{ id: 1, addr: { ip: B1, port: 8080, proto: LB_PROTO.TCP } }, { id: 2, addr: { ip: B2, port: 8080, proto: LB_PROTO.TCP } }];
  const svc: LbServiceRows = {
    frontend: { ip: VIP, port: 80, proto: LB_PROTO.TCP }, scope: 0, revNatIndex: 7, flags: 0, flags2: 0, affinityTimeoutSec: 0,
    backendIds: backends.map((b) => b.id),
  };

  before(function () {
    requireBpf(this);
  });

  beforeEach(function () {
    ep = loadEndpoint({ endpointId: 43, identity: 5000 }, {
      maxEntries: { cilium_ct4_global: 4096, cilium_drop_aggr: 4096, cilium_lb4_ct: 4096, cilium_lb4_services_v2: 256, cilium_lb4_backends_v3: 256, cilium_lb4_reverse_nat: 256 },
    });
    ep.maps.ipcache.updateBatch([ipcacheEntry(`${POD}/32`, 5000), ipcacheEntry(`${B1}/32`, 6000), ipcacheEntry(`${B2}/32`, 6000)]);
    const { lb } = ep.maps;
    lb.backends.updateBatch(backends.map((b) => [b.id, lbBackendValue(b.addr)] as const));
    lb.revNat.update(svc.revNatIndex, lbRevNatValue(svc.frontend));
    lb.services.updateBatch(lbServiceEntries(svc));
  });

  afterEach(function () {
    ep?.close();
  });

  const run = (prog: number, p: PacketSpec) => native().progTestRun(prog, withChecksums(buildPacket(p)));
  const fromPod = (p: Partial<PacketSpec>) => run(ep.progs.fromContainer, { src: POD, dst: VIP, proto: 'tcp', dport: 80, ...p });

  it('DNATs a connection to the frontend to one of its backends, checksums fixed', function () {
    const seen = new Set<string>();
    for (let sport = 41000; sport < 41040; sport++) {
      const r = fromPod({ sport });
      expect(r.retval).to.equal(OK);
      expect(checksumsValid(r.data), 'checksums').to.equal(true);
      const { src, dst } = endpointsOf(r.data);
      expect(src).to.equal(`${POD}:${sport}`);
      seen.add(dst);
    }
    expect([...seen].sort()).to.deep.equal([`${B1}:8080`, `${B2}:8080`]);
    // Conntrack recorded the backend tuple: policy and flows see the backend.
    expect(ep.maps.conntrack.entries().every(([k]) => k.daddr !== 0x0a60000a)).to.equal(true);
  });

  it('reverse-NATs the reply back to the frontend address and port', function () {
    const out = endpointsOf(fromPod({ sport: 42000 }).data);
    const [ip, port] = out.dst.split(':') as [string, string];
    const r = run(ep.progs.toContainer, { src: ip, dst: POD, proto: 'tcp', sport: Number(port), dport: 42000, flags: TCP.SYN | TCP.ACK });
    expect(r.retval).to.equal(OK);
    expect(endpointsOf(r.data)).to.deep.equal({ src: `${VIP}:80`, dst: `${POD}:42000` });
    expect(checksumsValid(r.data)).to.equal(true);
  });

  it('does not rewrite replies of a later direct connection from the same port to a backend', function () {
    const [ip, port] = endpointsOf(fromPod({ sport: 42100 }).data).dst.split(':') as [string, string];
    run(ep.progs.fromContainer, { src: POD, dst: ip, proto: 'tcp', sport: 42100, dport: Number(port) });
    const r = run(ep.progs.toContainer, { src: ip, dst: POD, proto: 'tcp', sport: Number(port), dport: 42100, flags: TCP.SYN | TCP.ACK });
    expect(endpointsOf(r.data).src).to.equal(`${ip}:${port}`);
  });

  it('keeps an established flow on its backend', function () {
    const first = endpointsOf(fromPod({ sport: 43000 }).data).dst;
    for (let i = 0; i < 20; i++) expect(endpointsOf(fromPod({ sport: 43000, flags: TCP.ACK }).data).dst).to.equal(first);
    // Even once its backend left the service, the flow stays; a new connection does not go there.
    const gone = backends.find((b) => `${b.addr.ip}:8080` === first)!;
    const left = backends.filter((b) => b !== gone);
    const rest: LbServiceRows = { ...svc, backendIds: left.map((b) => b.id) };
    ep.maps.lb.services.delete(lbServiceEntries(svc)[2]![0]);
    ep.maps.lb.services.updateBatch(lbServiceEntries(rest));
    expect(endpointsOf(fromPod({ sport: 43000, flags: TCP.ACK }).data).dst).to.equal(first);
    for (let sport = 44000; sport < 44010; sport++) expect(endpointsOf(fromPod({ sport }).data).dst).to.equal(`${left[0]!.addr.ip}:8080`);
  });

  it('translates UDP, keeping a zero (absent) UDP checksum zero', function () {
    const dns: LbServiceRows = { ...svc, frontend: { ip: VIP, port: 53, proto: LB_PROTO.UDP }, revNatIndex: 8, backendIds: [3] };
    ep.maps.lb.backends.update(3, lbBackendValue({ ip: B1, port: 5353, proto: LB_PROTO.UDP }));
    ep.maps.lb.revNat.update(8, lbRevNatValue(dns.frontend));
    ep.maps.lb.services.updateBatch(lbServiceEntries(dns));
    const r = fromPod({ proto: 'udp', sport: 46000, dport: 53, payload: 12 });
    expect(endpointsOf(r.data).dst).to.equal(`${B1}:5353`);
    expect(checksumsValid(r.data)).to.equal(true);
    const bare = withChecksums(buildPacket({ src: POD, dst: VIP, proto: 'udp', sport: 46001, dport: 53 }));
    bare.writeUInt16BE(0, 14 + 20 + 6);
    const out = native().progTestRun(ep.progs.fromContainer, bare).data;
    expect(endpointsOf(out).dst).to.equal(`${B1}:5353`);
    expect(out.readUInt16BE(14 + 20 + 6)).to.equal(0);
    const reply = run(ep.progs.toContainer, { src: B1, dst: POD, proto: 'udp', sport: 5353, dport: 46000 });
    expect(endpointsOf(reply.data).src).to.equal(`${VIP}:53`);
    expect(checksumsValid(reply.data)).to.equal(true);
  });

  it('passes traffic to a port or protocol the service does not expose untouched', function () {
    for (const p of [{ dport: 81 }, { proto: 'udp' as const, dport: 80 }]) {
      const sent = withChecksums(buildPacket({ src: POD, dst: VIP, proto: 'tcp', sport: 45000, ...p }));
      const r = native().progTestRun(ep.progs.fromContainer, sent);
      expect(r.retval).to.equal(OK);
      expect(r.data.equals(sent)).to.equal(true);
    }
  });
});
