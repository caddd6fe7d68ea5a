// Link requests and answers. Every message starts with struct ifinfomsg (16 bytes: u8 family, u8 pad,
// u16 device type, s32 index, u32 flags, u32 flags to change) before IFLA_* attributes.
import { AF, IFF, IFLA, IFLA_INFO, NLM_F, RTEXT_FILTER, RTM, SIZE, VETH_INFO } from './constants.ts';
import { decodeAttributes, encodeAttributes, type Attribute } from './attributes.ts';
import { packHeader, type Request } from './message.ts';
import { macValue, readMac, readString, readU32, stringValue, u32Value } from './values.ts';

/** A link as the kernel describes it. */
export interface Link {
  index: number;
  name: string;
  /** Link-layer address; absent on links without one. */
  mac?: string;
  mtu?: number;
  /** IFF_* flags. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
}

/** The index and name of a link: what requests about it need (index) and what errors show (name). */
export type LinkRef = Pick<Link, 'index' | 'name'>;

/** One end of a veth pair to create. */
export interface VethEnd {
  name: string;
  mac: string;
  mtu: number;
  /** Bring the end up as it is created. */
  up?: boolean;
}

/**
 * A veth pair: this end in the socket's namespace, the peer in the namespace of `peer.netnsFd` when
 * given. Only this end can come up with the pair: the kernel opens the peer before joining the two,
 * and a veth end opens only once joined (ENOTCONN), so the peer is brought up afterwards.
 */
export interface VethSpec extends VethEnd {
  peer: Omit<VethEnd, 'up'> & { netnsFd?: number };
}

/** Encodes struct ifinfomsg for link `index` (0: named by IFLA_IFNAME), setting the flags in `change` to those in `flags`. */
export function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  return packHeader(SIZE.IFINFOMSG, [[0, 'u8', AF.UNSPEC], [4, 's32', index], [8, 'u32', flags], [12, 'u32', change]]);
}

/** The ifinfomsg (up or left as created) and attributes of one veth end. */
function vethEnd(end: VethEnd, extra: Attribute[] = []): Buffer {
  const attrs: Attribute[] = [[IFLA.IFNAME, stringValue(end.name)], [IFLA.ADDRESS, macValue(end.mac)], [IFLA.MTU, u32Value(end.mtu)], ...extra];
  return Buffer.concat([end.up ? ifinfomsg(0, IFF.UP, IFF.UP) : ifinfomsg(0), encodeAttributes(attrs)]);
}

/** RTM_GETLINK of the link named `name`, without statistics. */
export function getLinkRequest(name: string): Request {
  const body = Buffer.concat([ifinfomsg(0), encodeAttributes([[IFLA.IFNAME, stringValue(name)], [IFLA.EXT_MASK, u32Value(RTEXT_FILTER.SKIP_STATS)]])]);
  return { type: RTM.GETLINK, flags: 0, body, subject: name };
}

/** RTM_NEWLINK creating a veth pair (fails with EEXIST when either name is taken), with both MACs and MTUs set. */
export function createVethRequest(spec: VethSpec): Request {
  const peerNetns: Attribute[] = spec.peer.netnsFd === undefined ? [] : [[IFLA.NET_NS_FD, u32Value(spec.peer.netnsFd)]];
  const linkInfo: Attribute[] = [
    [IFLA_INFO.KIND, stringValue('veth')],
    [IFLA_INFO.DATA, [[VETH_INFO.PEER, vethEnd(spec.peer, peerNetns)]]],
  ];
  return { type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, body: vethEnd(spec, [[IFLA.LINKINFO, linkInfo]]), subject: spec.name };
}

/** RTM_NEWLINK bringing the link named `name` up or down. */
export function setLinkUpRequest(name: string, up: boolean): Request {
  const body = Buffer.concat([ifinfomsg(0, up ? IFF.UP : 0, IFF.UP), encodeAttributes([[IFLA.IFNAME, stringValue(name)]])]);
  return { type: RTM.NEWLINK, flags: 0, body, subject: name };
}

/** RTM_DELLINK of the link named `name` (a veth takes its peer along). */
export function deleteLinkRequest(name: string): Request {
  return { type: RTM.DELLINK, flags: 0, body: Buffer.concat([ifinfomsg(0), encodeAttributes([[IFLA.IFNAME, stringValue(name)]])]), subject: name };
}

/** Decodes the body of an RTM_NEWLINK answer. */
export function decodeLink(body: Buffer): Link {
  if (body.length < SIZE.IFINFOMSG) throw new Error(`RTM_NEWLINK answer of ${body.length} bytes`);
  const attrs = decodeAttributes(body.subarray(SIZE.IFINFOMSG));
  const flags = body.readUInt32LE(8);
  const mac = attrs.get(IFLA.ADDRESS);
  const mtu = attrs.get(IFLA.MTU);
  return {
    index: body.readInt32LE(4),
    name: readString(attrs.get(IFLA.IFNAME) ?? Buffer.alloc(0)),
    ...(mac?.length ? { mac: readMac(mac) } : {}),
    ...(mtu ? { mtu: readU32(mtu) } : {}),
    flags,
    up: (flags & IFF.UP) !== 0,
  };
}
