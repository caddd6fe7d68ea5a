// Service load-balancing maps: frontends (with backend slots), backends, reverse NAT, and the
// per-flow backend choice. Row builders turn a service description into map rows.
import {
  lb4BackendCodec, lb4CtEntryCodec, lb4KeyCodec, lb4ReverseNatCodec, lb4ServiceCodec, ctKeyCodec,
  lb4AffinityKeyCodec, lb4AffinityValCodec, lbAffinityMatchCodec, lb4MaglevKeyCodec, lb4NatEntryCodec, lb4SockKeyCodec, lb4SockFrontendCodec,
  type CtKey, type Lb4Backend, type Lb4CtEntry, type Lb4Key, type Lb4ReverseNat, type Lb4Service,
  type Lb4AffinityKey, type Lb4AffinityVal, type LbAffinityMatch, type Lb4MaglevKey, type Lb4NatEntry,
} from '../codecs/generated.ts';
import { ipv4ToNumber, numberToIpv4 } from '../net.ts';
import type { BpfMap } from './bpf-map.ts';
import { u16Codec, u32Codec } from './percpu.ts';

/** Key/value codecs of the LB maps. */
export const LB_CODECS = {
  serviceKey: lb4KeyCodec, service: lb4ServiceCodec, backendId: u32Codec, backend: lb4BackendCodec,
  revNatIndex: u16Codec, revNat: lb4ReverseNatCodec, ctKey: ctKeyCodec, ct: lb4CtEntryCodec,
  affinityKey: lb4AffinityKeyCodec, affinity: lb4AffinityValCodec, affinityMatch: lbAffinityMatchCodec,
  maglevKey: lb4MaglevKeyCodec, nat: lb4NatEntryCodec, sockKey: lb4SockKeyCodec, sockFrontend: lb4SockFrontendCodec,
} as const;

/** The node's LB maps as the datapath types them. */
export interface LbMaps {
  services: BpfMap<Lb4Key, Lb4Service>;
  backends: BpfMap<number, Lb4Backend>;
  revNat: BpfMap<number, Lb4ReverseNat>;
  ct: BpfMap<CtKey, Lb4CtEntry>;
  /** Client → the backend it last used, per service with session affinity. */
  affinity: BpfMap<Lb4AffinityKey, Lb4AffinityVal>;
  /** (backend, service) pairs an affinity may still point at. */
  affinityMatch: BpfMap<LbAffinityMatch, number>;
  /** Maglev lookup tables: (rev-NAT index, slot) → backend id. */
  maglev: BpfMap<Lb4MaglevKey, number>;
  /** NodePort flows by client tuple and reply tuple. */
  nodeportNat: BpfMap<CtKey, Lb4NatEntry>;
}

/** IANA protocol numbers the LB handles. */
export const LB_PROTO = { TCP: 6, UDP: 17 } as const;

/** An address, port and protocol (a frontend or a backend). */
export interface L4Addr {
  ip: string;
  port: number;
  /** 6 or 17. */
  proto: number;
}

/** Slot-0 flag bits (lb.h; upstream's numbers except Ciliate's MAGLEV in flags2). */
export const SVC_FLAG = { EXTERNAL_IP: 1 << 0, NODEPORT: 1 << 1, EXT_LOCAL_SCOPE: 1 << 2, AFFINITY: 1 << 4, LOADBALANCER: 1 << 5, ROUTABLE: 1 << 6 } as const;
/** Slot-0 flags2 bits (lb.h). */
export const SVC_FLAG2 = { INT_LOCAL_SCOPE: 1 << 4, TWO_SCOPES: 1 << 5, MAGLEV: 1 << 7 } as const;
/** Lookup scopes of a frontend key (lb.h). */
export const LB_SCOPE = { EXT: 0, INT: 1 } as const;
/** lb4_nat_entry.flags bits (nodeport.h): the backend is local (no SNAT); the row is a reply tuple. */
export const NAT_FLAG = { LOCAL: 0x1, REPLY: 0x2 } as const;
/** Backend flag: the backend runs on this node (lb.h). */
export const BE_FLAG_LOCAL = 1 << 7;

/** One scope of a frontend: its reverse-NAT index, slot-0 flags and the ids of its backends in slot order. */
export interface LbServiceRows {
  frontend: L4Addr;
  scope: number;
  revNatIndex: number;
  flags: number;
  flags2: number;
  /** Session-affinity timeout in seconds (slot 0's backend_id, as upstream); 0 without affinity. */
  affinityTimeoutSec: number;
  backendIds: number[];
}

/** The text form `ip:port/proto` of an address. */
export function l4AddrText(a: L4Addr): string {
  return `${a.ip}:${a.port}/${a.proto === LB_PROTO.UDP ? 'UDP' : a.proto === LB_PROTO.TCP ? 'TCP' : String(a.proto)}`;
}

/** The key of a frontend's slot (0 = the service entry) in a scope. */
export function lbServiceKey(f: L4Addr, slot: number, scope: number = LB_SCOPE.EXT): Lb4Key {
  return { address: ipv4ToNumber(f.ip), dport: f.port, backendSlot: slot, proto: f.proto, scope };
}

/** Every services-map row of a frontend scope: slot 0 (count, rev-NAT index, flags), then one slot per backend. */
export function lbServiceEntries(s: LbServiceRows): Array<[Lb4Key, Lb4Service]> {
  const value = (backendId: number, count: number, flags: number, flags2: number): Lb4Service =>
    ({ backendId, count, revNatIndex: s.revNatIndex, flags, flags2 });
  return [
    [lbServiceKey(s.frontend, 0, s.scope), value(s.affinityTimeoutSec, s.backendIds.length, s.flags, s.flags2)],
    ...s.backendIds.map((id, i): [Lb4Key, Lb4Service] => [lbServiceKey(s.frontend, i + 1, s.scope), value(id, 0, 0, 0)]),
  ];
}

/** The backends-map value of an address (local: on this node). */
export function lbBackendValue(a: L4Addr, local = false): Lb4Backend {
  return { address: ipv4ToNumber(a.ip), port: a.port, proto: a.proto, flags: local ? BE_FLAG_LOCAL : 0, clusterId: 0, zone: 0 };
}

/** The reverse-NAT value of a frontend. */
export function lbRevNatValue(f: L4Addr): Lb4ReverseNat {
  return { address: ipv4ToNumber(f.ip), port: f.port };
}

/** A backends-map value as an address. */
export function lbBackendAddr(b: Lb4Backend): L4Addr {
  return { ip: numberToIpv4(b.address), port: b.port, proto: b.proto };
}

/** What the kernel maps hold, as frontend scopes with their backends (slot order; unknown ids shown as `#id`). */
export function readLbServices(maps: Pick<LbMaps, 'services' | 'backends'>): Array<{ frontend: L4Addr; scope: number; revNatIndex: number; flags: number; flags2: number; backends: string[] }> {
  const backends = new Map(maps.backends.entries().map(([id, b]) => [id, l4AddrText(lbBackendAddr(b))] as const));
  const groups = new Map<string, { master?: Lb4Service; key: Lb4Key; slots: Array<[number, number]> }>();
  for (const [k, v] of maps.services.entries()) {
    const id = `${k.address}:${k.dport}:${k.proto}:${k.scope}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key: k, slots: [] }));
    if (k.backendSlot === 0) g.master = v;
    else g.slots.push([k.backendSlot, v.backendId]);
  }
  return [...groups.values()].filter((g) => g.master).map((g) => ({
    frontend: { ip: numberToIpv4(g.key.address), port: g.key.dport, proto: g.key.proto },
    scope: g.key.scope,
    revNatIndex: g.master!.revNatIndex,
    flags: g.master!.flags,
    flags2: g.master!.flags2,
    backends: g.slots.sort((a, b) => a[0] - b[0]).map(([, id]) => backends.get(id) ?? `#${id}`),
  })).sort((a, b) => l4AddrText(a.frontend).localeCompare(l4AddrText(b.frontend)) || a.scope - b.scope);
}
