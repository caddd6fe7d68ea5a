/* Backend selection for a new connection to a frontend: session affinity first (the client's last
 * backend while fresh and still serving), then Maglev (a consistent hash of the 5-tuple into the
 * service's lookup table) or a random backend slot. */
#ifndef CILIATE_LB_SELECT_H
#define CILIATE_LB_SELECT_H

#include "common.h"
#include "config.h"
#include "lb.h"
#include "parse.h"

/* lb_translate's answer for a frontend with no backend to offer: the caller rejects the packet. */
#define LB_NO_BACKEND 1000

/* Whether the packet is a bare SYN: a new TCP connection, even on a reused tuple. */
static __always_inline int lb_is_syn(const struct pkt *p)
{
	return p->tuple.proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

/* Monotonic seconds: the affinity clock. */
static __always_inline __u64 lb_now_sec(void)
{
	return bpf_ktime_get_ns() / 1000000000ULL;
}

/* A 32-bit finaliser that spreads every input bit over the output. */
static __always_inline __u32 lb_mix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* A hash of the flow's addresses, ports and protocol, the same on every node. */
static __always_inline __u32 lb4_flow_hash(const struct ct_key *t)
{
	__u32 h = lb_mix(t->saddr ^ 0x9e3779b9);

	h = lb_mix(h ^ t->daddr);
	h = lb_mix(h ^ (((__u32)t->sport << 16) | t->dport));
	return lb_mix(h ^ t->proto);
}

/* Fills `out` from a backend id; 0 when the backend is gone. */
static __always_inline int lb4_backend_out(__u32 backend_id, __u16 rev_nat_index, struct lb4_ct_entry *out)
{
	struct lb4_backend *be = bpf_map_lookup_elem(&cilium_lb4_backends_v3, &backend_id);

	if (!be)
		return 0;
	out->backend_addr = be->address;
	out->backend_port = be->port;
	out->backend_id = backend_id;
	out->backend_flags = be->flags;
	out->rev_nat_index = rev_nat_index;
	return 1;
}

/* Whether a flow's remembered backend still exists (a removed one gets the flow a new backend). */
static __always_inline int lb4_backend_alive(__u32 backend_id)
{
	return bpf_map_lookup_elem(&cilium_lb4_backends_v3, &backend_id) != NULL;
}

/* The backend of `slot` (1..count) of the frontend `key`. */
static __always_inline int lb4_slot_backend(struct lb4_key key, __u16 slot, const struct lb4_service *svc,
					    struct lb4_ct_entry *out)
{
	struct lb4_service *s;

	key.backend_slot = slot;
	s = bpf_map_lookup_elem(&cilium_lb4_services_v2, &key);
	return s && lb4_backend_out(s->backend_id, svc->rev_nat_index, out);
}

/* The client's remembered backend, when fresh (within the service's timeout) and still serving. */
static __always_inline int lb4_affinity_backend(const struct ct_key *t, const struct lb4_service *svc, __u64 now,
						struct lb4_ct_entry *out)
{
	struct lb4_affinity_key ak = { .client = t->saddr, .rev_nat_id = svc->rev_nat_index };
	struct lb4_affinity_val *av = bpf_map_lookup_elem(&cilium_lb4_affinity, &ak);
	struct lb_affinity_match m = {};

	if (!av || now - av->last_used > svc->backend_id)
		return 0;
	m.backend_id = av->backend_id;
	m.rev_nat_id = svc->rev_nat_index;
	if (!bpf_map_lookup_elem(&cilium_lb_affinity_match, &m) || !lb4_backend_out(av->backend_id, svc->rev_nat_index, out))
		return 0;
	av->last_used = now;
	return 1;
}

/* Picks the backend of a new connection `t` to frontend `key` (with its slot-0 entry `svc`); 0 when
 * the frontend has no backend to offer. */
static __always_inline int lb4_select(const struct lb4_key *key, const struct lb4_service *svc, const struct ct_key *t,
				      struct lb4_ct_entry *out)
{
	__u64 now = 0;
	int ok;

	if (svc->count == 0)
		return 0;
	if (svc->flags & SVC_FLAG_AFFINITY) {
		now = lb_now_sec();
		if (lb4_affinity_backend(t, svc, now, out))
			return 1;
	}
	if (svc->flags2 & SVC_FLAG2_MAGLEV) {
		struct lb4_maglev_key mk = { .rev_nat_id = svc->rev_nat_index };
		__u32 size = ciliate_config.maglev_table_size ? ciliate_config.maglev_table_size : LB_MAGLEV_DEFAULT_SIZE;
		__u32 *id;

		mk.slot = lb4_flow_hash(t) % size;
		id = bpf_map_lookup_elem(&cilium_lb4_maglev, &mk);
		ok = id && lb4_backend_out(*id, svc->rev_nat_index, out);
	} else {
		ok = lb4_slot_backend(*key, (bpf_get_prandom_u32() % svc->count) + 1, svc, out);
	}
	if (ok && (svc->flags & SVC_FLAG_AFFINITY)) {
		struct lb4_affinity_key ak = { .client = t->saddr, .rev_nat_id = svc->rev_nat_index };
		struct lb4_affinity_val av = { .last_used = now, .backend_id = out->backend_id };

		bpf_map_update_elem(&cilium_lb4_affinity, &ak, &av, BPF_ANY);
	}
	return ok;
}

/* The slot-0 entry of the frontend a packet is addressed to: the external scope, or for a client
 * inside the cluster (`internal`) the internal scope of a two-scope frontend. `key` keeps the scope. */
static __always_inline struct lb4_service *lb4_lookup_service(struct lb4_key *key, int internal)
{
	struct lb4_service *svc;

	key->scope = LB_SCOPE_EXT;
	key->backend_slot = 0;
	svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, key);
	if (svc && internal && (svc->flags2 & SVC_FLAG2_TWO_SCOPES)) {
		key->scope = LB_SCOPE_INT;
		svc = bpf_map_lookup_elem(&cilium_lb4_services_v2, key);
	}
	return svc;
}

#endif
