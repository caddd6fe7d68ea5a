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
    buf[l4] = 8;
  }
  return buf;
}
