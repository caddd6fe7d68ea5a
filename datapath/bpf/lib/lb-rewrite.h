/* Address and port rewriting for service translation, with the IP and L4 checksums fixed up. */
#ifndef CILIATE_LB_REWRITE_H
#define CILIATE_LB_REWRITE_H

#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <stddef.h>

/* Rewrites the source (src != 0) or destination address and port, fixing the IP and L4 checksums. */
static __always_inline int lb4_rewrite(struct __sk_buff *skb, __u8 proto, int src, __be32 old_addr, __be32 new_addr,
				       __be16 old_port, __be16 new_port)
{
	__u8 vihl;
	__u32 l4off, csum_off;
	__u64 l4flags = BPF_F_PSEUDO_HDR;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1))
		return CTX_ACT_DROP;
	l4off = ETH_HLEN + (vihl & 0xf) * 4;
	if (proto == IPPROTO_TCP) {
		csum_off = l4off + 16;
	} else {
		csum_off = l4off + 6;
		l4flags |= BPF_F_MARK_MANGLED_0;
	}
	if (bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr, l4flags | sizeof(new_addr)))
		return CTX_ACT_DROP;
	if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, (l4flags & BPF_F_MARK_MANGLED_0) | sizeof(new_port)))
		return CTX_ACT_DROP;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old_addr, new_addr, sizeof(new_addr)))
		return CTX_ACT_DROP;
	if (bpf_skb_store_bytes(skb, ETH_HLEN + (src ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr)),
				&new_addr, sizeof(new_addr), 0))
		return CTX_ACT_DROP;
	if (bpf_skb_store_bytes(skb, l4off + (src ? 0 : 2), &new_port, sizeof(new_port), 0))
		return CTX_ACT_DROP;
	return CTX_ACT_OK;
}

#endif
