// Route requests and answers (IPv4, main table). Every message starts with struct rtmsg (12 bytes:
// u8 family, u8 destination prefix length, u8 source prefix length, u8 tos, u8 table, u8 protocol,
// u8 scope, u8 type, u32 flags) before RTA_* attributes.
import { AF, NLM_F, RT_SCOPE, RT_TABLE, RTA, RTM, RTN, RTPROT, SIZE } from './constants.ts';
import { decodeAttributes, encodeAttributes, type Attribute } from './attributes.ts';
import type { LinkRef } from './links.ts';
import { packHeader, type Request } from './message.ts';
import { ipv4Value, readIpv4, readU32, u32Value } from './values.ts';
import { numberToIpv4, parseCidr } from '../net.ts';

/** A route to set: destination prefix, out through `dev`, directly (scope link) or via a gateway. */
export interface RouteSpec {
  /** "10.0.0.5/32"; "0.0.0.0/0" is the default route. */
  dst: string;
  dev: LinkRef;
  /** Next hop; without it the destination is on the link. */
  via?: string;
}

/** An IPv4 route as the kernel describes it. */
export interface Route {
  /** Destination as "a.b.c.d/len". */
  dst: string;
  dstLen: number;
  gateway?: string;
  /** Outgoing link index. */
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

/** Encodes struct rtmsg. */
export function rtmsg(fields: { dstLen: number; table: number; protocol: number; scope: number; type: number; family?: number }): Buffer {
  return packHeader(SIZE.RTMSG, [
    [0, 'u8', fields.family ?? AF.INET], [1, 'u8', fields.dstLen], [4, 'u8', fields.table],
    [5, 'u8', fields.protocol], [6, 'u8', fields.scope], [7, 'u8', fields.type],
  ]);
}

/** RTM_NEWROUTE adding `spec` to the main table or replacing the route to the same destination. */
export function replaceRouteRequest(spec: RouteSpec): Request {
  const { addr, len } = parseCidr(spec.dst);
  const dst = `${numberToIpv4(addr)}/${len}`;
  const attrs: Attribute[] = [
    ...(len > 0 ? [[RTA.DST, ipv4Value(numberToIpv4(addr))] as const] : []),
    ...(spec.via ? [[RTA.GATEWAY, ipv4Value(spec.via)] as const] : []),
    [RTA.OIF, u32Value(spec.dev.index)],
  ];
  const head = rtmsg({ dstLen: len, table: RT_TABLE.MAIN, protocol: RTPROT.BOOT, scope: spec.via ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK, type: RTN.UNICAST });
  return {
    type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.REPLACE, body: Buffer.concat([head, encodeAttributes(attrs)]),
    subject: `${dst}${spec.via ? ` via ${spec.via}` : ''} dev ${spec.dev.name}`,
  };
}

/** RTM_GETROUTE dump of every IPv4 route in the namespace, all tables. */
export function dumpRoutesRequest(): Request {
  return { type: RTM.GETROUTE, flags: NLM_F.DUMP, body: rtmsg({ dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 }), subject: 'IPv4 routes' };
}

/** Decodes the body of an RTM_NEWROUTE answer; undefined for a route that is not IPv4. */
export function decodeRoute(body: Buffer): Route | undefined {
  if (body.length < SIZE.RTMSG) throw new Error(`RTM_NEWROUTE answer of ${body.length} bytes`);
  if (body.readUInt8(0) !== AF.INET) return undefined;
  const attrs = decodeAttributes(body.subarray(SIZE.RTMSG));
  const dstLen = body.readUInt8(1);
  const dst = attrs.get(RTA.DST);
  const gateway = attrs.get(RTA.GATEWAY);
  const oif = attrs.get(RTA.OIF);
  const table = attrs.get(RTA.TABLE);
  return {
    dst: `${dst ? readIpv4(dst) : '0.0.0.0'}/${dstLen}`,
    dstLen,
    ...(gateway ? { gateway: readIpv4(gateway) } : {}),
    ...(oif ? { oif: readU32(oif) } : {}),
    table: table ? readU32(table) : body.readUInt8(4),
    protocol: body.readUInt8(5),
    scope: body.readUInt8(6),
    type: body.readUInt8(7),
  };
}
