/* Handing flows to the node's L7 proxies without the pods seeing it (upstream's skb marks).
 *
 * A flow whose policy entry carries a proxy port goes to the proxy listening on that port in the
 * node's network namespace, with its addresses untouched: the packet gets the mark
 * `port << 16 | MARK_MAGIC_TO_PROXY`, the node's policy routing (`fwmark` -> a table whose default
 * route is local) delivers it to this node, and its TPROXY rule for the port gives it to the
 * proxy's transparent listener, or to the proxy's connection it belongs to.
 *   - Pod egress (tc ingress of the host-side veth, before routing): the mark is enough.
 *   - Pod ingress (tc egress, already routed to the pod): the packet is marked, addressed to the
 *     host side and put back into the same interface's ingress; cil_from_container lets such a
 *     packet pass untouched, since a mark never crosses into the node's namespace from a pod.
 * Replies take the same way back: a reply of a proxied flow that the proxy did not send itself is
 * handed to the proxy too, where it reaches the proxy's own connection.
 * The proxy's sockets carry MARK_MAGIC_PROXY_INGRESS or _EGRESS; their packets are policed but never
 * handed to a proxy of their direction again, nor an egress proxy's to this node's ingress proxy. */
#ifndef CILIATE_PROXY_H
#define CILIATE_PROXY_H

#include "common.h"
#include "conntrack.h"
#include "return.h"

#define MARK_MAGIC_HOST_MASK 0x0F00
#define MARK_MAGIC_TO_PROXY 0x0200
/* Set by the proxy (SO_MARK) on what it sends while enforcing ingress, resp. egress, policy. */
#define MARK_MAGIC_PROXY_INGRESS 0x0A00
#define MARK_MAGIC_PROXY_EGRESS 0x0B00

static __always_inline __u32 proxy_magic(const struct __sk_buff *skb)
{
	return skb->mark & MARK_MAGIC_HOST_MASK;
}

/* A packet put back into the node's stack by proxy_redirect on the pod's ingress. */
static __always_inline int proxy_is_handed_back(const struct __sk_buff *skb)
{
	return proxy_magic(skb) == MARK_MAGIC_TO_PROXY;
}

/* True when a packet of a flow whose policy entry (of direction entry_dir) has a proxy port (network
 * order, 0 = none) goes to that proxy. Not when that proxy sent it (its upstream connection, or its
 * answers to the client), and not what this node's egress proxy sends to a pod with ingress L7
 * rules: that proxy judged the request by the pod's ingress rules as well (a mark never crosses
 * nodes, so an egress proxy's mark on a pod's ingress means this node's). From another node an
 * egress proxy's upstream connection arrives unmarked and goes to this node's ingress proxy: the
 * two chain. */
static __always_inline int proxy_wants(const struct __sk_buff *skb, __be16 port, __u8 entry_dir)
{
	__u32 magic = proxy_magic(skb);

	if (!port || magic == MARK_MAGIC_PROXY_EGRESS)
		return 0;
	return entry_dir == DIR_EGRESS || magic != MARK_MAGIC_PROXY_INGRESS;
}

/* Hands the packet to the proxy on port (network order); returns the tc action. */
static __always_inline int proxy_redirect(struct __sk_buff *skb, const struct pkt *p, __be16 port)
{
	skb->mark = ((__u32)bpf_ntohs(port) << 16) | MARK_MAGIC_TO_PROXY;
	if (p->tuple.dir == DIR_EGRESS)
		return CTX_ACT_OK;
	return return_to_sender_ingress(skb);
}

#endif
