// IPCache map: CIDR -> security identity and tunnel endpoint.
import { ipcacheKeyCodec, remoteEndpointInfoCodec, type IpcacheKey, type RemoteEndpointInfo } from '../codecs/generated.ts';
import { IPCACHE_STATIC_PREFIX } from '../constants.ts';
import { ipv4ToNumber, numberToIpv4, parseCidr } from '../net.ts';
import type { BpfMap } from './bpf-map.ts';

/** The ipcache as the datapath types it. */
export type IpcacheMap = BpfMap<IpcacheKey, RemoteEndpointInfo>;

/** Key/value codecs of the ipcache. */
export const IPCACHE_CODECS = { key: ipcacheKeyCodec, value: remoteEndpointInfoCodec } as const;

const FAMILY_IPV4 = 1;

/** The LPM key for an IPv4 CIDR (host bits are cleared). */
export function ipcacheKey(cidr: string): IpcacheKey {
  const { addr, len } = parseCidr(cidr);
  const masked = len === 0 ? 0 : (addr & (~0 << (32 - len))) >>> 0;
  const bytes = new Uint8Array(16);
  Buffer.from(bytes.buffer).writeUInt32BE(masked, 0);
  return { prefixlen: IPCACHE_STATIC_PREFIX + len, clusterId: 0, family: FAMILY_IPV4, addr: bytes };
}

/** CIDR text of an ipcache key. */
export function ipcacheKeyCidr(key: IpcacheKey): string {
  return `${numberToIpv4(Buffer.from(key.addr).readUInt32BE(0))}/${key.prefixlen - IPCACHE_STATIC_PREFIX}`;
}

/** The value for an identity, with an optional tunnel endpoint address. */
export function ipcacheValue(identity: number, tunnelEndpoint?: string): RemoteEndpointInfo {
  return { secIdentity: identity, tunnelEndpoint: tunnelEndpoint ? ipv4ToNumber(tunnelEndpoint) : 0, key: 0, flags: 0 };
}

/** One [key, value] row for updateBatch. */
export function ipcacheEntry(cidr: string, identity: number, tunnelEndpoint?: string): [IpcacheKey, RemoteEndpointInfo] {
  return [ipcacheKey(cidr), ipcacheValue(identity, tunnelEndpoint)];
}
