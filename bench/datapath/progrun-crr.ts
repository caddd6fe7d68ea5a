// Per-packet cost of a short TCP connection's packets at one endpoint, its pod the server or the client,
// as the node's shared programs (the agent's mode) see them: for each connection a SYN (new flow:
// conntrack create, policy verdict, event), the SYN-ACK (reply), the handshake's ACK, a request and its
// answer, and both FINs with their ACKs, each run once with BPF_PROG_TEST_RUN (kernel-timed) on a
// fresh client port.
import { native } from '../../datapath/native.ts';
import {
  loadEndpoint, loadEndpointMaps, registerEndpointMaps, bindEndpointInterface, closeEndpointMaps,
  type LoadedEndpoint, type EndpointOwnMapsOf,
} from '../../datapath/loader.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries, setEnforcement } from '../../datapath/maps/policy.ts';
import { FlowEventReader } from '../../datapath/events.ts';
import { buildPacket, TCP } from '../../test/datapath/support/packets.ts';
import { median, scaleIpcache, scalePolicy } from './tools.ts';

const POD = '10.0.1.2', PEER = '10.0.1.3', PORT = 80, ENDPOINT_ID = 7;
/** BPF_PROG_TEST_RUN's default device is the loopback interface: the endpoint is bound to it. */
const LO_IFINDEX = 1;

type Step = { name: string; from: 'client' | 'server'; flags: number; payload: number };
/** One connection; the endpoint's pod is the server or the client (its packets run its egress program). */
const CONNECTION: Step[] = [
  { name: 'SYN', from: 'client', flags: TCP.SYN, payload: 0 },
  { name: 'SYN-ACK', from: 'server', flags: TCP.SYN | TCP.ACK, payload: 0 },
  { name: 'ACK', from: 'client', flags: TCP.ACK, payload: 0 },
  { name: 'request', from: 'client', flags: TCP.ACK | TCP.PSH, payload: 100 },
  { name: 'answer', from: 'server', flags: TCP.ACK | TCP.PSH, payload: 100 },
  { name: 'FIN', from: 'client', flags: TCP.FIN | TCP.ACK, payload: 0 },
  { name: 'FIN back', from: 'server', flags: TCP.FIN | TCP.ACK, payload: 0 },
  { name: 'last ACK', from: 'client', flags: TCP.ACK, payload: 0 },
];
type Role = 'server' | 'client';
const ROLES: Role[] = ['server', 'client'];

/** One endpoint object loaded as the node's shared programs, serving the server pod on the loopback device. */
interface Subject {
  ep: LoadedEndpoint;
  own: EndpointOwnMapsOf;
  reader: FlowEventReader;
  /** Per role of the pod and step of CONNECTION: the run time of every connection's packet. */
  ns: Record<Role, number[][]>;
}

function load(objectPath: string, scale: boolean): Subject {
  const ep = loadEndpoint({ endpointId: 0, identity: 1, shared: true }, {
    objectPath, maxEntries: { cilium_ct4_global: 65536, cilium_drop_aggr: 4096 },
  });
  const own = loadEndpointMaps(ENDPOINT_ID);
  const reader = new FlowEventReader(ep.maps.eventsFd, () => undefined, { intervalMs: 5 });
  const subject = { ep, own, reader, ns: { server: CONNECTION.map(() => []), client: CONNECTION.map(() => []) } };
  try {
    registerEndpointMaps(ep.maps, ENDPOINT_ID, own);
    bindEndpointInterface(ep.maps, { endpointId: ENDPOINT_ID, identity: 5000, ifindex: LO_IFINDEX });
    ep.maps.ipcache.updateBatch([ipcacheEntry(`${PEER}/32`, 1000), ipcacheEntry(`${POD}/32`, 5000)]);
    own.policy.updateBatch([
      ...policyEntries({ direction: 'ingress', identity: 1000, protocol: 6, port: PORT, entryId: 1 }),
      ...policyEntries({ direction: 'egress', identity: 1000, protocol: 6, port: PORT, entryId: 2 }),
    ]);
    if (scale) {
      ep.maps.ipcache.updateBatch(scaleIpcache(100_000));
      own.policy.updateBatch(scalePolicy(5_000, 3));
    }
    setEnforcement(own.policyConfig, true, true);
    return subject;
  } catch (err) {
    unload(subject);
    throw err;
  }
}

function unload(s: Subject): void {
  s.reader.close();
  closeEndpointMaps(s.own);
  s.ep.close();
}

function runConnection(s: Subject, role: Role, port: number): void {
  const [client, server] = role === 'server' ? [PEER, POD] : [POD, PEER];
  CONNECTION.forEach((step, i) => {
    const pkt = step.from === 'client'
      ? buildPacket({ src: client, dst: server, proto: 'tcp', sport: port, dport: PORT, flags: step.flags, payload: step.payload })
      : buildPacket({ src: server, dst: client, proto: 'tcp', sport: PORT, dport: port, flags: step.flags, payload: step.payload });
    const fromPod = step.from === role;
    const res = native().progTestRun(fromPod ? s.ep.progs.fromContainer : s.ep.progs.toContainer, pkt);
    if (res.retval !== 0) throw new Error(`step ${step.name} of connection ${port} (pod as ${role}) was not passed (retval ${res.retval})`);
    s.ns[role][i]!.push(res.durationNs);
  });
}

/** Prints markdown tables: per object, the median run time of each packet of the connection (ns), and their mean. */
export async function progRunCrrBench(objects: string[], connections = 5000): Promise<void> {
  console.log(`\nShort connections at one endpoint, its pod the server or the client (shared programs, BPF_PROG_TEST_RUN once per packet, median over ${connections} connections, ns):\n`);
  console.log(`| maps | object | pod | ${CONNECTION.map((s) => s.name).join(' | ')} | mean |`);
  console.log(`|---|---|---|${CONNECTION.map(() => '---|').join('')}---|`);
  for (const scale of [false, true]) {
    const subjects: Subject[] = [];
    try {
      for (const o of objects) subjects.push(load(o, scale));
      // Interleaved so that the machine's load shifts hit every object alike.
      for (let c = 0; c < connections; c++) {
        for (const s of subjects) for (const role of ROLES) runConnection(s, role, 10000 + c);
        // Lets the readers drain the ring: a backlog past the wakeup threshold makes every event wake them.
        if (c % 100 === 99) await new Promise((r) => setTimeout(r, 10));
      }
      subjects.forEach((s, k) => {
        for (const role of ROLES) {
          const med = s.ns[role].map((xs) => median(xs));
          const mean = Math.round(med.reduce((a, b) => a + b, 0) / med.length);
          console.log(`| ${scale ? '100k ipcache + 5k policy' : '2 ipcache + 1 policy'} | ${objects[k]} | ${role} | ${med.join(' | ')} | ${mean} |`);
        }
      });
    } finally {
      subjects.forEach(unload);
    }
  }
}
