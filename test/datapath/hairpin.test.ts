// Service hairpin on real veths: a pod reaching itself through a ClusterIP, NodePort or LoadBalancer
// frontend whose only backend is the pod. Per packet (the node's shared endpoint programs on its
// host-side veth, as the agent runs them) the connection is turned back into the pod from the service
// loopback address and judged by the pod's own policy as traffic from its own identity; at connect()
// (the socket programs on a cgroup v2 directory the test makes) it goes straight to the pod's address.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bindEndpointInterface, closeEndpointMaps, loadEndpoint, loadEndpointMaps, loadSock, registerEndpointMaps,
  type EndpointOwnMapsOf, type LoadedEndpoint,
} from '../../datapath/loader.ts';
import { attachCgroup, attachEndpoint, CgroupAttachType, type InterfaceAttachment } from '../../datapath/attach.ts';
import { inNetns } from '../../datapath/netns.ts';
import { native } from '../../datapath/native.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries, setEnforcement, type PolicyRule } from '../../datapath/maps/policy.ts';
import { LB_PROTO, SVC_FLAG, lbBackendValue, lbRevNatValue, lbServiceEntries, type L4Addr } from '../../datapath/maps/lb.ts';
import { FlowEventReader, type FlowEvent } from '../../datapath/events.ts';
import { SERVICE_LOOPBACK_IPV4 } from '../../datapath/constants.ts';
import { makePinDir, removePinDir } from '../../datapath/bpffs.ts';
import { joinCgroupArgv } from '../../cluster/cgroup.ts';
import { clientIpProbe, clientIpServer } from '../support/tcp-programs.ts';
import { requireBpf } from './support/env.ts';
import { createTopology, nsSpawn, sh, type Topology } from './support/netns.ts';

const ENDPOINT_ID = 9;
const IDENTITY = 4321;
const WORLD = 2;
const TCP_PORT = 8080;
const UDP_PORT = 5353;
const VIP = '10.96.7.7';
const NODE_IP = '10.231.9.9';
const LB_IP = '192.0.2.61';
const NODE_PORT = 30080;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('service hairpin: a pod reaching itself through a service', function () {
  this.timeout(60_000);
  let topo: Topology | undefined;
  let shared: LoadedEndpoint | undefined;
  let own: EndpointOwnMapsOf | undefined;
  let att: InterfaceAttachment | undefined;
  let server: ChildProcess | undefined;
  let reader: FlowEventReader | undefined;
  let pinRoot = '';
  const events: FlowEvent[] = [];

  const tcp = (ip: string, port: number): L4Addr => ({ ip, port, proto: LB_PROTO.TCP });
  const frontends: Array<{ fe: L4Addr; kind: string; flags: number; backend: number }> = [
    { fe: tcp(VIP, 80), kind: 'ClusterIP', flags: 0, backend: 1 },
    { fe: tcp(NODE_IP, NODE_PORT), kind: 'NodePort', flags: SVC_FLAG.NODEPORT, backend: 1 },
    { fe: tcp(LB_IP, 80), kind: 'LoadBalancer', flags: SVC_FLAG.LOADBALANCER, backend: 1 },
    { fe: { ip: VIP, port: 53, proto: LB_PROTO.UDP }, kind: 'ClusterIP (UDP)', flags: 0, backend: 2 },
  ];

  /** Runs the probe in pod A (in `cgroupProcs` when given): `<what the server saw> <peer>` or `error ...`. */
  const probe = (fe: L4Addr, cgroupProcs?: string): string => {
    const argv = [...joinCgroupArgv(cgroupProcs), 'nsenter', `--net=/run/netns/${topo!.podA}`, 'python3', '-c',
      clientIpProbe(fe.ip, fe.port, fe.proto === LB_PROTO.UDP ? 'udp' : 'tcp')];
    return sh(argv[0]!, ...argv.slice(1)).trim();
  };
  const viaLoopback = (fe: L4Addr) => `${SERVICE_LOOPBACK_IPV4} ${fe.ip}:${fe.port}`;
  const waitEvent = async (pred: (e: FlowEvent) => boolean) => {
    for (let i = 0; i < 40 && !events.some(pred); i++) await sleep(50);
    return events.find(pred);
  };
  const resetPolicy = () => {
    own!.policy.deleteBatch(own!.policy.entries().map(([k]) => k));
    setEnforcement(own!.policyConfig, false, false);
    events.length = 0;
  };

  before(async function () {
    requireBpf(this);
    topo = createTopology();
    pinRoot = makePinDir(`ciliate-test-hairpin-${topo.suffix}`);
    shared = loadEndpoint({ endpointId: 0, identity: 1, shared: true, aggregationIntervalNs: 1n }, {
      pinRoot, maxEntries: { cilium_ct4_global: 4096, cilium_drop_aggr: 1024, cilium_lb4_ct: 1024, cilium_lb4_services_v2: 64, cilium_lb4_backends_v3: 64, cilium_lb4_reverse_nat: 64 },
    });
    own = loadEndpointMaps(ENDPOINT_ID, { pinRoot });
    registerEndpointMaps(shared.maps, ENDPOINT_ID, own);
    bindEndpointInterface(shared.maps, { endpointId: ENDPOINT_ID, identity: IDENTITY, ifindex: topo.ifindexA });
    shared.maps.ipcache.update(...ipcacheEntry(`${topo.ipA}/32`, IDENTITY));
    const { lb } = shared.maps;
    lb.backends.update(1, lbBackendValue(tcp(topo.ipA, TCP_PORT), true));
    lb.backends.update(2, lbBackendValue({ ip: topo.ipA, port: UDP_PORT, proto: LB_PROTO.UDP }, true));
    frontends.forEach(({ fe, flags, backend }, i) => {
      lb.revNat.update(i + 1, lbRevNatValue(fe));
      lb.services.updateBatch(lbServiceEntries({ frontend: fe, scope: 0, revNatIndex: i + 1, flags, flags2: 0, affinityTimeoutSec: 0, backendIds: [backend] }));
    });
    const t = topo;
    const progs = shared.progs;
    att = inNetns(t.nodePath, () => attachEndpoint(t.ifindexA, progs));
    reader = new FlowEventReader(shared.maps.eventsFd, (evs) => events.push(...evs), { intervalMs: 20 });
    server = nsSpawn(topo.podA, 'python3', '-c', clientIpServer(TCP_PORT, UDP_PORT));
    await sleep(400);
  });

  after(function () {
    reader?.close();
    server?.kill('SIGKILL');
    const t = topo;
    if (att && t) inNetns(t.nodePath, () => att?.detach());
    if (own) closeEndpointMaps(own);
    shared?.close();
    topo?.destroy();
    if (pinRoot) removePinDir(pinRoot);
  });

  beforeEach(function () {
    if (own) resetPolicy();
  });

  it('reaches itself through ClusterIP, NodePort and LoadBalancer frontends: the pod sees the loopback address as the client, the frontend as the peer', function () {
    expect(probe(tcp(topo!.ipA, TCP_PORT)), 'its own address, directly').to.equal(`${topo!.ipA} ${topo!.ipA}:${TCP_PORT}`);
    for (const { fe, kind } of frontends) expect(probe(fe), kind).to.equal(viaLoopback(fe));
  });

  it('reports both halves of the hairpinned flow, marked as service loopback, with the pod\'s identity on both ends', async function () {
    expect(probe(frontends[0]!.fe)).to.equal(viaLoopback(frontends[0]!.fe));
    const out = await waitEvent((e) => e.type === 'POLICY_VERDICT' && e.direction === 'EGRESS' && e.dstPort === TCP_PORT);
    const back = await waitEvent((e) => e.type === 'POLICY_VERDICT' && e.direction === 'INGRESS' && e.dstPort === TCP_PORT);
    expect(out).to.include({ srcIp: topo!.ipA, dstIp: topo!.ipA, srcIdentity: IDENTITY, dstIdentity: IDENTITY, serviceLoopback: true });
    expect(back).to.include({ srcIp: SERVICE_LOOPBACK_IPV4, dstIp: topo!.ipA, srcIdentity: IDENTITY, dstIdentity: IDENTITY, serviceLoopback: true });
  });

  it('judges the hairpinned connection by the pod\'s ingress policy as coming from its own identity', async function () {
    const fe = frontends[0]!.fe;
    setEnforcement(own!.policyConfig, true, false);
    expect(probe(fe), 'default deny').to.match(/^error/);
    const drop = await waitEvent((e) => e.type === 'DROP' && e.dstPort === TCP_PORT);
    expect(drop).to.include({ dropReason: 133, direction: 'INGRESS', srcIp: SERVICE_LOOPBACK_IPV4, srcIdentity: IDENTITY, dstIdentity: IDENTITY, serviceLoopback: true });
    const rule = (identity: number, entryId: number): PolicyRule => ({ direction: 'ingress', identity, protocol: 6, port: TCP_PORT, entryId });
    own!.policy.updateBatch(policyEntries(rule(WORLD, 1)));
    expect(probe(fe), 'a rule for world does not admit it').to.match(/^error/);
    own!.policy.updateBatch(policyEntries(rule(IDENTITY, 2)));
    expect(probe(fe), 'a rule for its own identity does').to.equal(viaLoopback(fe));
    expect(probe(frontends[3]!.fe), 'UDP is not allowed').to.match(/^error/);
  });

  it('judges it by the pod\'s egress policy toward its own identity at the backend port', async function () {
    const fe = frontends[2]!.fe;
    setEnforcement(own!.policyConfig, false, true);
    expect(probe(fe), 'default deny').to.match(/^error/);
    const drop = await waitEvent((e) => e.type === 'DROP' && e.dstPort === TCP_PORT);
    expect(drop).to.include({ dropReason: 133, direction: 'EGRESS', dstIp: topo!.ipA, srcIdentity: IDENTITY, dstIdentity: IDENTITY, serviceLoopback: true });
    own!.policy.updateBatch(policyEntries({ direction: 'egress', identity: IDENTITY, protocol: 6, port: TCP_PORT, entryId: 3 }));
    expect(probe(fe)).to.equal(viaLoopback(fe));
  });

  it('connect() translated at the socket goes straight to the pod\'s own address; the peer still reads as the frontend', function () {
    const root = mkdtempSync(join(tmpdir(), 'ciliate-cg-'));
    const links: number[] = [];
    let mounted = false;
    let cg = '';
    try {
      execFileSync('mount', ['-t', 'cgroup2', 'none', root]);
      mounted = true;
      cg = join(root, `ciliate-hairpin-${topo!.suffix}`);
      mkdirSync(cg);
      const progs = loadSock({ pinRoot });
      try {
        for (const [fd, type] of [[progs.connect4, CgroupAttachType.INET4_CONNECT], [progs.getpeername4, CgroupAttachType.INET4_GETPEERNAME],
          [progs.sendmsg4, CgroupAttachType.INET4_SENDMSG], [progs.recvmsg4, CgroupAttachType.INET4_RECVMSG]] as const) links.push(attachCgroup(fd, cg, type));
      } finally {
        for (const fd of Object.values(progs)) native().fdClose(fd);
      }
      const before = shared!.maps.lb.ct.entries().length;
      for (const { fe, kind } of frontends) expect(probe(fe, join(cg, 'cgroup.procs')), kind).to.equal(`${topo!.ipA} ${fe.ip}:${fe.port}`);
      expect(shared!.maps.lb.ct.entries().length, 'no per-packet translation').to.equal(before);
    } finally {
      for (const l of links) {
        native().linkDetach(l);
        native().fdClose(l);
      }
      if (cg) rmdirSync(cg);
      if (mounted) execFileSync('umount', [root]);
      rmdirSync(root);
    }
  });
});
