// Neighbour requests (IPv4). Every message starts with struct ndmsg (12 bytes: u8 family, u8 and u16
// padding, s32 link index, u16 state, u8 flags, u8 type) before NDA_* attributes.
import { AF, NDA, NLM_F, NUD, RTM, RTN, SIZE } from './constants.ts';
import { encodeAttributes } from './attributes.ts';
import type { LinkRef } from './links.ts';
import { packHeader, type Request } from './message.ts';
import { ipv4Value, macValue } from './values.ts';

/** A neighbour entry to pin: on link `dev`, `ip` is at link-layer address `mac`. */
export interface NeighbourSpec {
  dev: LinkRef;
  ip: string;
  mac: string;
}

/** Encodes struct ndmsg. */
export function ndmsg(index: number, state: number, type: number = RTN.UNICAST, family: number = AF.INET): Buffer {
  return packHeader(SIZE.NDMSG, [[0, 'u8', family], [4, 's32', index], [8, 'u16', state], [11, 'u8', type]]);
}

/** RTM_NEWNEIGH creating or replacing a permanent entry (never aged out, never probed). */
export function replacePermanentNeighbourRequest(spec: NeighbourSpec): Request {
  const body = Buffer.concat([ndmsg(spec.dev.index, NUD.PERMANENT), encodeAttributes([[NDA.DST, ipv4Value(spec.ip)], [NDA.LLADDR, macValue(spec.mac)]])]);
  return { type: RTM.NEWNEIGH, flags: NLM_F.CREATE | NLM_F.REPLACE, body, subject: `${spec.ip} lladdr ${spec.mac} dev ${spec.dev.name}` };
}
