/* A pod's service traffic: runs before the ipcache and conntrack stages so that policy sees backend
 * addresses. On the pod's egress a packet to a frontend is DNATed to the flow's backend (chosen by
 * lb-select.h for a new connection); the choice is remembered per flow (cilium_lb4_ct) so an
 * established flow keeps its backend, and the reply tuple remembers the reverse-NAT index so the
 * reply is rewritten back to the frontend on the pod's ingress. The packet context `p` keeps the
 * backend tuple either way: ipcache, conntrack, policy and events see the backend. A connection whose
 * backend is the pod itself is marked here and turned back into the pod by lb-loopback.h. */
#ifndef CILIATE_LB_POD_H
#define CILIATE_LB_POD_H

#include "common.h"
#include "lb.h"
#include "lb-rewrite.h"
#include "lb-select.h"
#include "lb-loopback.h"

/* The tuple of a reply from backend:port to the packet's source, as the pod's ingress sees it. */
static __always_inline struct ct_key lb4_reply_key(const struct pkt *p, __be32 backend, __be16 port)
{
	struct ct_key rev = {
		.saddr = backend, .daddr = p->tuple.saddr, .sport = port, .dport = p->tuple.sport,
		.proto = p->tuple.proto, .dir = DIR_INGRESS,
	};
	return rev;
}

/* Pod egress: a packet to a frontend goes to the flow's backend (a new one for a new connection). */
static __always_inline int lb4_dnat(struct __sk_buff *skb, struct pkt *p)
{
	struct lb4_key key = { .address = p->tuple.daddr, .dport = p->tuple.dport, .proto = p->tuple.proto };
	struct lb4_service *svc = lb4_lookup_service(&key, 1);
	struct lb4_ct_entry chosen = {}, *known;
	struct ct_key fwd = p->tuple, rev = {};
	int rc;

	if (!svc) {
		/* A new connection straight to an address: forget an old service flow's reply tuple on it. */
		if (lb_is_syn(p)) {
			rev = lb4_reply_key(p, p->tuple.daddr, p->tuple.dport);
			/* A lookup is lock-free; a delete takes the bucket's lock even when it finds nothing. */
			if (bpf_map_lookup_elem(&cilium_lb4_ct, &rev))
				bpf_map_delete_elem(&cilium_lb4_ct, &rev);
		}
		return CTX_ACT_OK;
	}
	known = bpf_map_lookup_elem(&cilium_lb4_ct, &fwd);
	if (known && !lb_is_syn(p) && lb4_backend_alive(known->backend_id)) {
		chosen = *known;
	} else {
		if (!lb4_select(&key, svc, &p->tuple, &chosen))
			return LB_NO_BACKEND;
		rev = lb4_reply_key(p, chosen.backend_addr, chosen.backend_port);
		bpf_map_update_elem(&cilium_lb4_ct, &rev, &chosen, BPF_ANY);
		bpf_map_update_elem(&cilium_lb4_ct, &fwd, &chosen, BPF_ANY);
	}
	lb4_loopback_mark_backend(p, chosen.backend_addr);
	rc = lb4_rewrite(skb, p->tuple.proto, 0, p->tuple.daddr, chosen.backend_addr, p->tuple.dport, chosen.backend_port);
	if (rc != CTX_ACT_OK)
		return rc;
	p->tuple.daddr = chosen.backend_addr;
	p->tuple.dport = chosen.backend_port;
	return CTX_ACT_OK;
}

/* Pod ingress: a reply from a backend of a translated flow gets the frontend back as its source.
 * p keeps the backend tuple, so conntrack and policy match the forward flow. */
static __always_inline int lb4_rev_nat(struct __sk_buff *skb, const struct pkt *p)
{
	struct ct_key rev = p->tuple;
	struct lb4_ct_entry *e = bpf_map_lookup_elem(&cilium_lb4_ct, &rev);
	struct lb4_reverse_nat *rn;
	__u16 idx;

	if (!e)
		return CTX_ACT_OK;
	idx = e->rev_nat_index;
	rn = bpf_map_lookup_elem(&cilium_lb4_reverse_nat, &idx);
	if (!rn)
		return CTX_ACT_OK;
	return lb4_rewrite(skb, p->tuple.proto, 1, p->tuple.saddr, rn->address, p->tuple.sport, rn->port);
}

/* Translates a service frontend to a backend (egress) or a backend reply to its frontend (ingress).
 * Returns CTX_ACT_OK to continue, LB_NO_BACKEND to reject, or a tc action. */
static __always_inline int lb_translate(struct __sk_buff *skb, struct pkt *p)
{
	if (p->tuple.proto != IPPROTO_TCP && p->tuple.proto != IPPROTO_UDP)
		return CTX_ACT_OK;
	if (p->tuple.dir == DIR_EGRESS)
		return lb4_dnat(skb, p);
	lb4_loopback_mark_arrival(skb, p);
	return lb4_rev_nat(skb, p);
}

#endif
