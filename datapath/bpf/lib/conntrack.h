/* Connection tracking: an LRU map of flows admitted by policy, so established and reply packets pass. */
#ifndef CILIATE_CONNTRACK_H
#define CILIATE_CONNTRACK_H

#include "common.h"
#include "config.h"
#include "parse.h"

#define CT_NEW 0
#define CT_ESTABLISHED 1
#define CT_REPLY 2

/* ct_entry.flags bits. */
#define CT_F_CLOSING 0x1
#define CT_F_PROXY 0x2
/* A pod's connection to itself through a service (lb-loopback.h): its replies are turned back too. */
#define CT_F_SERVICE_LOOPBACK 0x4

/* Per-flow state. last_report_ns/report_flags drive event aggregation for the flow, per side (0 forward, 1 reply). */
struct ct_entry {
	__u64 packets;
	__u64 bytes;
	__u64 last_seen_ns;
	__u64 last_report_ns[2];
	__u32 src_identity;
	__u32 entry_id;
	__u16 proxy_port;
	__u8 flags;
	__u8 report_flags[2];
	__u8 match_type;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
	__uint(max_entries, 524288);
} cilium_ct4_global SEC(".maps");

/* Result of a conntrack lookup: the state and, when known, the live entry. */
struct ct_result {
	int state;
	struct ct_entry *entry;
};

static __always_inline __u64 ct_lifetime(const struct pkt *p)
{
	return p->tuple.proto == IPPROTO_TCP ? ciliate_config.ct_lifetime_tcp_ns : ciliate_config.ct_lifetime_other_ns;
}

static __always_inline int ct_expired(const struct pkt *p, const struct ct_entry *e, __u64 now)
{
	__u64 last = READ_ONCE(e->last_seen_ns);

	/* Another CPU touched the entry after this packet's `now` was taken: it is alive (and
	 * `now - last` would wrap around to an age of centuries). */
	if (last >= now)
		return 0;
	if (e->flags & CT_F_CLOSING)
		return now - last > 10ULL * 1000000000ULL;
	return now - last > ct_lifetime(p);
}

static __always_inline void ct_touch(const struct pkt *p, struct ct_entry *e, __u64 now)
{
	__sync_fetch_and_add(&e->packets, 1);
	__sync_fetch_and_add(&e->bytes, p->len);
	if (e->last_seen_ns != now)
		e->last_seen_ns = now;
	if (p->tcp_flags & (TCPF_FIN | TCPF_RST))
		e->flags |= CT_F_CLOSING;
}

/* Looks the packet up as a forward packet, then as a reply. Expired entries count as new. */
static __always_inline struct ct_result ct_lookup(const struct pkt *p, __u64 now)
{
	struct ct_key key = p->tuple;
	struct ct_result res = { .state = CT_NEW };
	struct ct_entry *e;

	e = bpf_map_lookup_elem(&cilium_ct4_global, &key);
	if (e && !ct_expired(p, e, now)) {
		/* A SYN on a closing flow reopens it: run policy again. */
		if ((e->flags & CT_F_CLOSING) && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
			return res;
		ct_touch(p, e, now);
		res.state = CT_ESTABLISHED;
		res.entry = e;
		return res;
	}
	key.saddr = p->tuple.daddr;
	key.daddr = p->tuple.saddr;
	key.sport = p->tuple.dport;
	key.dport = p->tuple.sport;
	key.dir = p->tuple.dir == DIR_EGRESS ? DIR_INGRESS : DIR_EGRESS;
	e = bpf_map_lookup_elem(&cilium_ct4_global, &key);
	if (e && !ct_expired(p, e, now)) {
		ct_touch(p, e, now);
		res.state = CT_REPLY;
		res.entry = e;
	}
	return res;
}

/* Records a flow that policy admitted. Returns 0, or an error when the map refused it. */
static __always_inline long ct_create(const struct pkt *p, __u64 now, __u32 entry_id, __u16 proxy_port,
				      __u8 match_type)
{
	struct ct_key key = p->tuple;
	struct ct_entry e = {
		.packets = 1, .bytes = p->len, .last_seen_ns = now,
		.src_identity = p->remote_identity, .entry_id = entry_id,
		.proxy_port = proxy_port, .match_type = match_type,
	};

	e.last_report_ns[0] = now;
	e.report_flags[0] = p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST);
	if (proxy_port)
		e.flags |= CT_F_PROXY;
	if (p->flags & PKT_F_SERVICE_LOOPBACK)
		e.flags |= CT_F_SERVICE_LOOPBACK;
	return bpf_map_update_elem(&cilium_ct4_global, &key, &e, BPF_ANY);
}

#endif
