/* Service load balancing (ClusterIP): runs before the ipcache and conntrack stages so that policy
 * sees backend addresses. On the pod's egress a packet to a service frontend is DNATed to a backend
 * chosen at random for each new connection; the choice is remembered per flow (cilium_lb4_ct) so an
 * established flow keeps its backend, and the reply tuple remembers the reverse-NAT index so the
 * reply is rewritten back to the frontend on the pod's ingress. The packet context `p` keeps the
 * backend tuple either way: ipcache, conntrack, policy and events see the backend.
 *
 * Every key/value struct of the LB maps is declared here (tools/btf2ts.ts generates their codecs). */
#ifndef CILIATE_LB_H
#define CILIATE_LB_H

#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <stddef.h>

/* Frontend key. backend_slot 0 is the service entry (count, rev_nat_index); slots 1..count name backends. */
struct lb4_key {
	__be32 address;
	__be16 dport;
	__u16 backend_slot;
	__u8 proto;
	__u8 scope;
	__u8 pad[2];
};

/* Slot 0: count of backends and the reverse-NAT index; slot n: backend_id. */
struct lb4_service {
	__u32 backend_id;
	__u16 count;
	__u16 rev_nat_index;
	__u8 flags;
	__u8 flags2;
	__u16 pad;
};

/* A backend: address and port in network order. */
struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8 proto;
	__u8 flags;
	__u16 cluster_id;
	__u8 zone;
	__u8 pad;
};

/* What a reply's source is rewritten to: the service frontend. */
struct lb4_reverse_nat {
	__be32 address;
	__be16 port;
	__u16 pad;
};

/* The backend a translated flow uses; stored under the forward tuple (to the frontend, egress) and
 * under the reply tuple (from the backend, ingress). */
struct lb4_ct_entry {
	__be32 backend_addr;
	__be16 backend_port;
	__u16 rev_nat_index;
	__u32 backend_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_key);
	__type(value, struct lb4_service);
	__uint(max_entries, 65536);
} cilium_lb4_services_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb4_backend);
	__uint(max_entries, 65536);
} cilium_lb4_backends_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, struct lb4_reverse_nat);
	__uint(max_entries, 65536);
} cilium_lb4_reverse_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct lb4_ct_entry);
	__uint(max_entries, 131072);
} cilium_lb4_ct SEC(".maps");

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

/* Picks a backend of the service at random; 0 when it has none. */
static __always_inline int lb4_pick(struct lb4_key key, const struct lb4_service *svc, struct lb4_ct_entry *out)
{
	struct lb4_service *slot;
	struct lb4_backend *be;

	if (svc->count == 0)
		return 0;
	key.backend_slot = (bpf_get_prandom_u32() % svc->count) + 1;
	slot = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	if (!slot)
		return 0;
	be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &slot->backend_id);
	if (!be)
		return 0;
	out->backend_addr = be->address;
	out->backend_port = be->port;
	out->backend_id = slot->backend_id;
	out->rev_nat_index = svc->rev_nat_index;
	return 1;
}

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
	struct lb4_service *svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	struct lb4_ct_entry chosen = {}, *known;
	struct ct_key fwd = p->tuple, rev = {};
	int rc;

	if (!svc) {
		/* A new connection straight to an address: forget an old service flow's reply tuple on it. */
		if (p->tuple.proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
			rev = lb4_reply_key(p, p->tuple.daddr, p->tuple.dport);
			bpf_map_delete_elem(&cilium_lb4_ct, &rev);
		}
		return CTX_ACT_OK;
	}
	known = bpf_map_lookup_elem(&cilium_lb4_ct, &fwd);
	/* A bare SYN opens a new connection even on a reused tuple: it gets a current backend. */
	if (known && !(p->tuple.proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)) {
		chosen = *known;
	} else {
		if (!lb4_pick(key, svc, &chosen))
			return CTX_ACT_OK;
		rev = lb4_reply_key(p, chosen.backend_addr, chosen.backend_port);
		bpf_map_update_elem(&cilium_lb4_ct, &rev, &chosen, BPF_ANY);
		bpf_map_update_elem(&cilium_lb4_ct, &fwd, &chosen, BPF_ANY);
	}
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
 * Returns CTX_ACT_OK to continue. */
static __always_inline int lb_translate(struct __sk_buff *skb, struct pkt *p)
{
	if (p->tuple.proto != IPPROTO_TCP && p->tuple.proto != IPPROTO_UDP)
		return CTX_ACT_OK;
	if (p->tuple.dir == DIR_EGRESS)
		return lb4_dnat(skb, p);
	return lb4_rev_nat(skb, p);
}

#endif
