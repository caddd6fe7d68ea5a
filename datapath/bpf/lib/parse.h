/* Packet parsing: Ethernet + IPv4 + TCP/UDP ports into struct pkt. */
#ifndef CILIATE_PARSE_H
#define CILIATE_PARSE_H

#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>

#define PARSE_OK 0
#define PARSE_NOT_IPV4 1
#define PARSE_INVALID -1

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
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IPV4;
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
	}
	return PARSE_OK;
}

#endif
