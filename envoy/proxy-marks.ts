/**
 * The skb marks between the datapath and the L7 proxies (upstream's magic marks, bits 8-11; see
 * datapath/bpf/lib/proxy.h): the datapath's mark on a packet it hands to a proxy port, and the marks
 * a proxy's own sockets carry.
 */

/** A packet for a proxy: `port << 16 | MARK_MAGIC_TO_PROXY`. */
export const MARK_MAGIC_TO_PROXY = 0x0200;
/** Set by a proxy on what it sends while enforcing ingress policy. */
export const MARK_MAGIC_PROXY_INGRESS = 0x0a00;
/** Set by a proxy on what it sends while enforcing egress policy. */
export const MARK_MAGIC_PROXY_EGRESS = 0x0b00;

/** The mark the datapath gives a packet for the proxy on `port`. */
export function proxyMark(port: number): number {
  return ((port << 16) | MARK_MAGIC_TO_PROXY) >>> 0;
}
