/* Traffic from the node network to NodePort, externalIP and LoadBalancer frontends, at the node's
 * device. A new connection gets a backend (lb-select.h, external scope). A backend on this node is
 * reached by DNAT alone: the kernel routes the packet to the pod, and the reply, leaving through
 * the device, gets the frontend back as its source. A backend on another node is reached by DNAT
 * plus SNAT to this node's address and a port of its own, sent straight out of the device; its reply
 * comes back to that address and port and is turned around to the client. Each flow is kept in
 * cilium_lb4_nodeport_nat under the client's tuple and its reply's tuple. */
#ifndef CILIATE_NODEPORT_H
#define CILIATE_NODEPORT_H

#include "common.h"
#include "config.h"
#include "lb.h"
#include "lb-rewrite.h"
#include "lb-select.h"

/* lb4_nat_entry.flags. */
#define NAT_F_LOCAL 0x1
#define NAT_F_REPLY 0x2

/* The ephemeral range SNAT ports are taken from when the client's own port is in use. */
#define NAT_PORT_MIN 32768
#define NAT_PORT_SPAN 28232
#define NAT_PORT_TRIES 8

/* Which frontends the node network may reach. */
#define SVC_FLAGS_EXTERNAL (SVC_FLAG_NODEPORT | SVC_FLAG_EXTERNAL_IP | SVC_FLAG_LOADBALANCER)

/* Sets reply->dport to a port no other SNATed flow of the same backend uses (the client's first). */
static __always_inline int nodeport_nat_port(struct ct_key *reply, __be16 first)
{
	reply->dport = first;
	if (!bpf_map_lookup_elem(&cilium_lb4_nodeport_nat, reply))
		return 1;
#pragma unroll
	for (int i = 0; i < NAT_PORT_TRIES; i++) {
		reply->dport = bpf_htons(NAT_PORT_MIN + bpf_get_prandom_u32() % NAT_PORT_SPAN);
		if (!bpf_map_lookup_elem(&cilium_lb4_nodeport_nat, reply))
			return 1;
	}
	return 0;
}

/* Records a new flow: the client's tuple and the reply's tuple. Fills e->nat_* for SNAT. */
static __always_inline int nodeport_track(const struct pkt *p, struct lb4_nat_entry *e)
{
	struct ct_key reply = {
		.saddr = e->backend_addr, .sport = e->backend_port, .proto = p->tuple.proto,
	};
	struct lb4_nat_entry r;

	if (e->flags & NAT_F_LOCAL) {
		reply.daddr = p->tuple.saddr;
		reply.dport = p->tuple.sport;
		reply.dir = DIR_EGRESS;
	} else {
		reply.daddr = ciliate_config.node_ip;
		reply.dir = DIR_INGRESS;
		if (!nodeport_nat_port(&reply, p->tuple.sport))
			return 0;
		e->nat_addr = reply.daddr;
		e->nat_port = reply.dport;
	}
	r = *e;
	r.flags |= NAT_F_REPLY;
	return bpf_map_update_elem(&cilium_lb4_nodeport_nat, &reply, &r, BPF_ANY) == 0 &&
	       bpf_map_update_elem(&cilium_lb4_nodeport_nat, &p->tuple, e, BPF_ANY) == 0;
}

/* A remote backend's reply to our SNAT address: back to the client, from the frontend. */
static __always_inline int nodeport_remote_reply(struct __sk_buff *skb, const struct pkt *p, const struct lb4_nat_entry *e)
{
	if (lb4_rewrite(skb, p->tuple.proto, 0, p->tuple.daddr, e->client_addr, p->tuple.dport, e->client_port) ||
	    lb4_rewrite(skb, p->tuple.proto, 1, p->tuple.saddr, e->frontend_addr, p->tuple.sport, e->frontend_port))
		return CTX_ACT_DROP;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

/* Node ingress. Returns CTX_ACT_OK to pass the packet on, LB_NO_BACKEND to reject, or a tc action. */
static __always_inline int nodeport_ingress(struct __sk_buff *skb, struct pkt *p)
{
	struct lb4_key key = { .address = p->tuple.daddr, .dport = p->tuple.dport, .proto = p->tuple.proto };
	struct lb4_nat_entry *known = bpf_map_lookup_elem(&cilium_lb4_nodeport_nat, &p->tuple);
	struct lb4_nat_entry e = {};
	struct lb4_ct_entry chosen = {};
	struct lb4_service *svc;

	if (known && (known->flags & NAT_F_REPLY))
		return nodeport_remote_reply(skb, p, known);
	svc = lb4_lookup_service(&key, 0);
	if (!svc || !(svc->flags & SVC_FLAGS_EXTERNAL))
		return CTX_ACT_OK;
	if (known && !lb_is_syn(p) && lb4_backend_alive(known->backend_id)) {
		e = *known;
	} else {
		if (!lb4_select(&key, svc, &p->tuple, &chosen))
			return LB_NO_BACKEND;
		e.backend_addr = chosen.backend_addr;
		e.backend_port = chosen.backend_port;
		e.backend_id = chosen.backend_id;
		e.rev_nat_index = chosen.rev_nat_index;
		e.client_addr = p->tuple.saddr;
		e.client_port = p->tuple.sport;
		e.frontend_addr = p->tuple.daddr;
		e.frontend_port = p->tuple.dport;
		e.flags = (chosen.backend_flags & BE_FLAG_LOCAL) ? NAT_F_LOCAL : 0;
		if (!nodeport_track(p, &e))
			return CTX_ACT_DROP;
	}
	if (lb4_rewrite(skb, p->tuple.proto, 0, p->tuple.daddr, e.backend_addr, p->tuple.dport, e.backend_port))
		return CTX_ACT_DROP;
	p->tuple.daddr = e.backend_addr;
	p->tuple.dport = e.backend_port;
	if (e.flags & NAT_F_LOCAL)
		return CTX_ACT_OK;
	if (lb4_rewrite(skb, p->tuple.proto, 1, p->tuple.saddr, e.nat_addr, p->tuple.sport, e.nat_port))
		return CTX_ACT_DROP;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

/* Node egress: a local backend's reply to a NodePort client leaves with the frontend as its source. */
static __always_inline int nodeport_egress(struct __sk_buff *skb, const struct pkt *p)
{
	struct lb4_nat_entry *e = bpf_map_lookup_elem(&cilium_lb4_nodeport_nat, &p->tuple);

	if (!e || (e->flags & (NAT_F_REPLY | NAT_F_LOCAL)) != (NAT_F_REPLY | NAT_F_LOCAL))
		return CTX_ACT_OK;
	return lb4_rewrite(skb, p->tuple.proto, 1, p->tuple.saddr, e->frontend_addr, p->tuple.sport, e->frontend_port);
}

#endif
