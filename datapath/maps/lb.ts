// Service load-balancing maps: frontends (with backend slots), backends, reverse NAT, and the
// per-flow backend choice. Row builders turn a service description into map rows.
import {
  lb4BackendCodec, lb4CtEntryCodec, lb4KeyCodec, lb4ReverseNatCodec, lb4ServiceCodec, ctKeyCodec,
  type CtKey, type Lb4Backend, type Lb4CtEntry, type Lb4Key, type Lb4ReverseNat, type Lb4Service,
} from '../codecs/generated.ts';
import { ipv4ToNumber, numberToIpv4 } from '../net.ts';
import type { BpfMap } from './bpf-map.ts';
import { u16Codec, u32Codec } from './percpu.ts';

/** Key/value codecs of the LB maps. */
export const LB_CODECS = {
  serviceKey: lb4KeyCodec, service: lb4ServiceCodec, backendId: u32Codec, backend: lb4BackendCodec,
  revNatIndex: u16Codec, revNat: lb4ReverseNatCodec, ctKey: ctKeyCodec, ct: lb4CtEntryCodec,
} as const;

/** The node's LB maps as the datapath types them. */
export interface LbMaps {
  services: BpfMap<Lb4Key, Lb4Service>;
  backends: BpfMap<number, Lb4Backend>;
  revNat: BpfMap<number, Lb4ReverseNat>;
  ct: BpfMap<CtKey, Lb4CtEntry>;
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

/** A frontend with its reverse-NAT index and its backends (each with its backend id). */
export interface LbServiceRows {
  frontend: L4Addr;
  revNatIndex: number;
  backends: Array<{ id: number; addr: L4Addr }>;
}

/** The text form `ip:port/proto` of an address. */
export function l4AddrText(a: L4Addr): string {
  return `${a.ip}:${a.port}/${a.proto === LB_PROTO.UDP ? 'UDP' : a.proto === LB_PROTO.TCP ? 'TCP' : String(a.proto)}`;
}

/** The key of a frontend's slot (0 = the service entry). */
export function lbServiceKey(f: L4Addr, slot: number): Lb4Key {
  return { address: ipv4ToNumber(f.ip), dport: f.port, backendSlot: slot, proto: f.proto, scope: 0 };
}

/** Every services-map row of a frontend: slot 0 (count, rev-NAT index), then one slot per backend. */
export function lbServiceEntries(s: LbServiceRows): Array<[Lb4Key, Lb4Service]> {
  const value = (backendId: number, count: number): Lb4Service => ({ backendId, count, revNatIndex: s.revNatIndex, flags: 0, flags2: 0 });
  return [
    [lbServiceKey(s.frontend, 0), value(0, s.backends.length)],
    ...s.backends.map((b, i): [Lb4Key, Lb4Service] => [lbServiceKey(s.frontend, i + 1), value(b.id, 0)]),
  ];
}

/** The backends-map value of an address. */
export function lbBackendValue(a: L4Addr): Lb4Backend {
  return { address: ipv4ToNumber(a.ip), port: a.port, proto: a.proto, flags: 0, clusterId: 0, zone: 0 };
}

/** The reverse-NAT value of a frontend. */
export function lbRevNatValue(f: L4Addr): Lb4ReverseNat {
  return { address: ipv4ToNumber(f.ip), port: f.port };
}

/** A backends-map value as an address. */
export function lbBackendAddr(b: Lb4Backend): L4Addr {
  return { ip: numberToIpv4(b.address), port: b.port, proto: b.proto };
}

/** What the kernel maps hold, as frontends with their backends (slot order; unknown ids shown as `#id`). */
export function readLbServices(maps: Pick<LbMaps, 'services' | 'backends'>): Array<{ frontend: L4Addr; revNatIndex: number; backends: string[] }> {
  const backends = new Map(maps.backends.entries().map(([id, b]) => [id, l4AddrText(lbBackendAddr(b))] as const));
  const rows = maps.services.entries();
  const masters = rows.filter(([k]) => k.backendSlot === 0);
  return masters.map(([k, v]) => {
    const slots = rows.filter(([s]) => s.backendSlot > 0 && s.address === k.address && s.dport === k.dport && s.proto === k.proto)
      .sort((a, b) => a[0].backendSlot - b[0].backendSlot);
    return {
      frontend: { ip: numberToIpv4(k.address), port: k.dport, proto: k.proto },
      revNatIndex: v.revNatIndex,
      backends: slots.map(([, s]) => backends.get(s.backendId) ?? `#${s.backendId}`),
    };
  }).sort((a, b) => l4AddrText(a.frontend).localeCompare(l4AddrText(b.frontend)));
}
