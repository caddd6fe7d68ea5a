// Builds Ethernet/IPv4/TCP|UDP frames for BPF_PROG_TEST_RUN.
import { ipv4ToNumber } from '../../../datapath/net.ts';

/** A packet to synthesise. */
export interface PacketSpec {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp' | 'icmp';
  sport?: number;
  dport?: number;
  /** TCP flags byte (default SYN). */
  flags?: number;
  payload?: number;
  /** ICMP type (default 8, echo request) and echo identifier. */
  icmpType?: number;
  icmpId?: number;
}

/** TCP flag bits. */
export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

const PROTO = { tcp: 6, udp: 17, icmp: 1 } as const;

/** Returns the frame bytes. */
export function buildPacket(p: PacketSpec): Buffer {
  const l4len = p.proto === 'tcp' ? 20 : 8;
  const payload = p.payload ?? 0;
  const buf = Buffer.alloc(14 + 20 + l4len + payload);
  buf.writeUInt16BE(0x0800, 12);
  const ip = 14;
  buf[ip] = 0x45;
  buf.writeUInt16BE(20 + l4len + payload, ip + 2);
  buf[ip + 8] = 64;
  buf[ip + 9] = PROTO[p.proto];
  buf.writeUInt32BE(ipv4ToNumber(p.src), ip + 12);
  buf.writeUInt32BE(ipv4ToNumber(p.dst), ip + 16);
  const l4 = ip + 20;
  if (p.proto !== 'icmp') {
    buf.writeUInt16BE(p.sport ?? 40000, l4);
    buf.writeUInt16BE(p.dport ?? 80, l4 + 2);
  }
  if (p.proto === 'tcp') {
    buf[l4 + 12] = 5 << 4;
    buf[l4 + 13] = p.flags ?? TCP.SYN;
  } else if (p.proto === 'udp') {
    buf.writeUInt16BE(8 + payload, l4 + 4);
  } else {
    buf[l4] = p.icmpType ?? 8;
    buf.writeUInt16BE(p.icmpId ?? 0, l4 + 4);
  }
  return buf;
}

/** A frame of another ethertype (IPv6 0x86dd, ARP 0x0806, ...) with `bytes` of zeroed payload. */
export function buildFrame(ethertype: number, bytes = 48): Buffer {
  const buf = Buffer.alloc(14 + bytes);
  buf.writeUInt16BE(ethertype, 12);
  if (ethertype === 0x86dd) buf[14] = 0x60;
  return buf;
}

function sum16(buf: Buffer, start: number, end: number, init = 0): number {
  let s = init;
  for (let i = start; i < end; i += 2) s += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function l4Sum(buf: Buffer): number {
  const ip = 14;
  const total = buf.readUInt16BE(ip + 2);
  const l4 = ip + (buf[ip]! & 0xf) * 4;
  const pseudo = sum16(buf, ip + 12, ip + 20) + buf[ip + 9]! + (ip + total - l4);
  return sum16(buf, l4, ip + total, pseudo);
}

/** Fills in valid IPv4 and TCP/UDP checksums (in place; returns the buffer). */
export function withChecksums(buf: Buffer): Buffer {
  const ip = 14;
  const l4 = ip + (buf[ip]! & 0xf) * 4;
  const off = buf[ip + 9] === 6 ? 16 : 6;
  buf.writeUInt16BE(0, ip + 10);
  buf.writeUInt16BE(~sum16(buf, ip, ip + 20) & 0xffff, ip + 10);
  buf.writeUInt16BE(0, l4 + off);
  buf.writeUInt16BE(~l4Sum(buf) & 0xffff, l4 + off);
  return buf;
}

/** Whether the IPv4 and TCP/UDP checksums of a frame verify. */
export function checksumsValid(buf: Buffer): boolean {
  return sum16(buf, 14, 34) === 0xffff && l4Sum(buf) === 0xffff;
}

/** Source and destination `ip:port` of a frame. */
export function endpointsOf(buf: Buffer): { src: string; dst: string } {
  const a = (o: number) => [...buf.subarray(o, o + 4)].join('.');
  const l4 = 14 + (buf[14]! & 0xf) * 4;
  return { src: `${a(26)}:${buf.readUInt16BE(l4)}`, dst: `${a(30)}:${buf.readUInt16BE(l4 + 2)}` };
}

/** Offset of `ifindex` in struct __sk_buff (UAPI). */
const SKB_IFINDEX_OFFSET = 40;

/** Room for the whole struct __sk_buff the kernel writes back (a smaller buffer fails with ENOSPC). */
const SKB_CTX_OUT_SIZE = 256;

/**
 * BPF_PROG_TEST_RUN options that make the packet arrive on interface `ifindex` (of the network
 * namespace the run happens in), as the node's shared endpoint programs find their endpoint by it.
 */
export function skbOnInterface(ifindex: number): { ctx: Buffer; ctxOutSize: number } {
  const ctx = Buffer.alloc(SKB_IFINDEX_OFFSET + 4);
  ctx.writeUInt32LE(ifindex, SKB_IFINDEX_OFFSET);
  return { ctx, ctxOutSize: SKB_CTX_OUT_SIZE };
}
