/* Packet parsing: Ethernet + IPv4 + TCP/UDP ports (ICMP: type, and the echo identifier as a port) into
 * struct pkt. */
#ifndef CILIATE_PARSE_H
#define CILIATE_PARSE_H

#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>

#define PARSE_OK 0
/* Not IPv4 and not ARP: an IPv4-only datapath has no policy for it (drop, DROP_UNKNOWN_L3). */
#define PARSE_NOT_IPV4 1
/* ARP, which an IPv4 network needs and policy does not cover: passed. */
#define PARSE_ARP 2
#define PARSE_INVALID -1

/* ICMP echo request and reply types (RFC 792). */
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

/* The ICMP header's first 8 bytes, as an echo request or reply lays them out. */
struct icmp_echo_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 sequence;
};

/* TCP flag bits as they appear in byte 13 of the TCP header. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

/* Fills p from the packet; PARSE_NOT_IPV4 for traffic this datapath passes untouched. */
static __always_inline int parse_packet(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end)
		return PARSE_INVALID;
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return PARSE_ARP;
	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		/* No IPv4 header, so no tuple: the ethertype stands in as the destination port. */
		p->tuple.dport = eth->h_proto;
		p->len = skb->len;
		return PARSE_NOT_IPV4;
	}
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return PARSE_INVALID;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return PARSE_INVALID;
	p->tuple.saddr = ip->saddr;
	p->tuple.daddr = ip->daddr;
	p->tuple.proto = ip->protocol;
	p->len = skb->len;
	/* Non-first fragments carry no ports. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return PARSE_OK;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (void *)ip + ihl;
		if ((void *)(th + 1) > data_end)
			return PARSE_INVALID;
		p->tuple.sport = th->source;
		p->tuple.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *uh = (void *)ip + ihl;
		if ((void *)(uh + 1) > data_end)
			return PARSE_INVALID;
		p->tuple.sport = uh->source;
		p->tuple.dport = uh->dest;
	} else if (ip->protocol == IPPROTO_ICMP) {
		struct icmp_echo_hdr *ih = (void *)ip + ihl;
		if ((void *)(ih + 1) > data_end)
			return PARSE_INVALID;
		p->icmp_type = ih->type;
		/* An echo and its reply share the identifier: as the request's source port and the reply's
		 * destination port, so that the reply is the request's reverse tuple in conntrack. */
		if (ih->type == ICMP_ECHO)
			p->tuple.sport = ih->id;
		else if (ih->type == ICMP_ECHOREPLY)
			p->tuple.dport = ih->id;
	}
	return PARSE_OK;
}

#endif
