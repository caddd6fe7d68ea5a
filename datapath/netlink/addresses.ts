// Address requests and answers (IPv4). Every message starts with struct ifaddrmsg (8 bytes: u8 family,
// u8 prefix length, u8 flags, u8 scope, u32 link index) before IFA_* attributes.
import { AF, IFA, NLM_F, RT_SCOPE, RTM, SIZE } from './constants.ts';
import { decodeAttributes, encodeAttributes } from './attributes.ts';
import type { LinkRef } from './links.ts';
import { packHeader, type Request } from './message.ts';
import { ipv4Value, readIpv4 } from './values.ts';
import { numberToIpv4, parseCidr } from '../net.ts';

/** An IPv4 address on a link. */
export interface Address {
  /** Link index. */
  index: number;
  /** The link's own address (IFA_LOCAL), or IFA_ADDRESS when only that is given. */
  local: string;
  prefixLen: number;
  scope: number;
}

/** Encodes struct ifaddrmsg. */
export function ifaddrmsg(index: number, prefixLen: number, scope: number, family: number = AF.INET): Buffer {
  return packHeader(SIZE.IFADDRMSG, [[0, 'u8', family], [1, 'u8', prefixLen], [3, 'u8', scope], [4, 'u32', index]]);
}

/** RTM_NEWADDR putting `cidr` ("10.0.0.5/32") on link `dev`, replacing the same address's settings when present. */
export function addAddressRequest(dev: LinkRef, cidr: string): Request {
  const { addr, len } = parseCidr(cidr);
  const ip = numberToIpv4(addr);
  const body = Buffer.concat([ifaddrmsg(dev.index, len, RT_SCOPE.UNIVERSE), encodeAttributes([[IFA.LOCAL, ipv4Value(ip)], [IFA.ADDRESS, ipv4Value(ip)]])]);
  return { type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.REPLACE, body, subject: `${ip}/${len} dev ${dev.name}` };
}

/** RTM_GETADDR dump of every IPv4 address in the namespace. */
export function dumpAddressesRequest(): Request {
  return { type: RTM.GETADDR, flags: NLM_F.DUMP, body: ifaddrmsg(0, 0, 0), subject: 'IPv4 addresses' };
}

/** Decodes the body of an RTM_NEWADDR answer; undefined for an address that is not IPv4. */
export function decodeAddress(body: Buffer): Address | undefined {
  if (body.length < SIZE.IFADDRMSG) throw new Error(`RTM_NEWADDR answer of ${body.length} bytes`);
  if (body.readUInt8(0) !== AF.INET) return undefined;
  const attrs = decodeAttributes(body.subarray(SIZE.IFADDRMSG));
  const local = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  if (!local) return undefined;
  return { index: body.readUInt32LE(4), local: readIpv4(local), prefixLen: body.readUInt8(1), scope: body.readUInt8(3) };
}
