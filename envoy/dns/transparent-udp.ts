/**
 * The DNS proxy's UDP side behind a transparent redirect: a native IP_TRANSPARENT socket on the
 * proxy port (datapath/native/udp-origdst.cc) that reports each query's original destination (the
 * DNS server the client addressed) and sends the answer from that address and port, so the client
 * sees its server reply. `mark` is the socket mark of those answers (the datapath's mark for what a
 * proxy sends, so they are not redirected again).
 */
import { native } from '../../datapath/native.ts';
import type { DnsUdpListener } from './proxy.ts';

/** A transparent UDP listener on ip:port ('' = every address). */
export function transparentUdpListener(ip: string, port: number, mark = 0): DnsUdpListener & { readonly port: number } {
  let receive: Parameters<DnsUdpListener['onDatagram']>[0] = () => undefined;
  const socket = new (native().OrigDstUdp)(ip, port, mark, (data, srcIp, srcPort, dstIp, dstPort) =>
    receive(data, { address: srcIp, port: srcPort }, { address: dstIp, port: dstPort }));
  return {
    port: socket.port(),
    onDatagram(r) {
      receive = r;
    },
    send(msg, to, from) {
      socket.sendFrom(from.address, from.port, to.address, to.port, msg);
    },
    close: () => socket.close(),
  };
}
