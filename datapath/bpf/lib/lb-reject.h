/* The answer to a connection for a service without backends (upstream's default "reject"): the
 * packet is turned into an ICMP port-unreachable from the frontend to its sender and sent back out
 * of the interface it arrived on, so the client fails at once instead of retrying into silence. */
#ifndef CILIATE_LB_REJECT_H
#define CILIATE_LB_REJECT_H

#include "common.h"
#include "return.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>

/* ICMP type and code of the reject (RFC 792: destination unreachable, port unreachable). */
#define LB_ICMP_DEST_UNREACH 3
#define LB_ICMP_PORT_UNREACH 3

/* Ciliate's skb mark on a reject on its way back: the receiving program lets it pass untouched. */
#define MARK_MAGIC_LB_REJECT 0x0700

/* ICMP header plus what RFC 792 quotes of the offending datagram: its IP header and 8 bytes. */
struct lb4_icmp_unreach {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 unused;
	__u8 quoted[28];
};

/* Folds a 32-bit one's-complement sum into a 16-bit checksum. */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Rewrites the packet into the reject and redirects it; returns the tc action. */
static __always_inline int lb4_reject(struct __sk_buff *skb)
{
	struct lb4_icmp_unreach icmp = { .type = LB_ICMP_DEST_UNREACH, .code = LB_ICMP_PORT_UNREACH };
	struct iphdr ip, reply = {};

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return CTX_ACT_DROP;
	if (ip.ihl != 5 || bpf_skb_load_bytes(skb, ETH_HLEN, icmp.quoted, sizeof(icmp.quoted)))
		return CTX_ACT_DROP;
	reply.version = 4;
	reply.ihl = 5;
	reply.tot_len = bpf_htons(sizeof(reply) + sizeof(icmp));
	reply.ttl = 64;
	reply.protocol = IPPROTO_ICMP;
	reply.saddr = ip.daddr;
	reply.daddr = ip.saddr;
	reply.check = csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)&reply, sizeof(reply), 0));
	icmp.checksum = csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)&icmp, sizeof(icmp), 0));
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(reply) + sizeof(icmp), 0))
		return CTX_ACT_DROP;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &reply, sizeof(reply), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(reply), &icmp, sizeof(icmp), 0))
		return CTX_ACT_DROP;
	skb->mark = MARK_MAGIC_LB_REJECT;
	return return_to_sender(skb);
}

/* Whether this packet is a reject on its way back (the mark is cleared). */
static __always_inline int lb4_is_reject(struct __sk_buff *skb)
{
	if (skb->mark != MARK_MAGIC_LB_REJECT)
		return 0;
	skb->mark = 0;
	return 1;
}

#endif
