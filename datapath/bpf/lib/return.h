/* Sending a packet back where it came from: out of the interface it arrived on, addressed (at L2) to
 * the host that sent it. On a pod's host-side veth that means back into the pod. */
#ifndef CILIATE_RETURN_H
#define CILIATE_RETURN_H

#include "common.h"
#include <linux/if_ether.h>

/* Swaps the Ethernet source and destination; 0, or -1 when the frame cannot be rewritten. */
static __always_inline int swap_macs(struct __sk_buff *skb)
{
	__u8 macs[2 * ETH_ALEN], swapped[2 * ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
		return -1;
	__builtin_memcpy(swapped, macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(swapped + ETH_ALEN, macs, ETH_ALEN);
	return bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) ? -1 : 0;
}

/* Swaps the Ethernet source and destination and redirects the packet to the egress of the interface
 * it arrived on (whose tc egress programs see it); returns the tc action. */
static __always_inline int return_to_sender(struct __sk_buff *skb)
{
	if (swap_macs(skb))
		return CTX_ACT_DROP;
	return bpf_redirect(skb->ifindex, 0);
}

/* The opposite turn: a packet leaving by an interface, addressed back to that interface and put into
 * its ingress (whose tc ingress programs see it), so the local stack receives it; returns the tc action. */
static __always_inline int return_to_sender_ingress(struct __sk_buff *skb)
{
	if (swap_macs(skb))
		return CTX_ACT_DROP;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

#endif
