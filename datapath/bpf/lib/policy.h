/* Per-endpoint policy: two LPM lookups (peer identity, wildcard identity) with upstream precedence. */
#ifndef CILIATE_POLICY_H
#define CILIATE_POLICY_H

#include "common.h"
#include "config.h"
#include "policy-maps.h"
#include <linux/in.h>

/* Endpoint ids are 16 bits (upstream's range). */
#define ENDPOINT_ID_MAX 65536

/* The shared programs' view of every endpoint's policy maps, indexed by endpoint id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, ENDPOINT_ID_MAX);
	__array(values, POLICY_MAP_DEF);
} ciliate_policy_maps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, ENDPOINT_ID_MAX);
	__array(values, POLICY_STATS_DEF);
} ciliate_policy_stats_maps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, ENDPOINT_ID_MAX);
	__array(values, POLICY_CONFIG_DEF);
} ciliate_policy_config_maps SEC(".maps");

/* The policy maps of the packet's endpoint: the program's own, or those registered for its id. */
struct policy_maps {
	void *policy;
	void *stats;
	void *config;
};

/* Finds the policy maps for endpoint `endpoint_id`; returns 0, or -1 when the shared programs have
 * none registered for it. */
static __always_inline int policy_maps_of(__u32 endpoint_id, struct policy_maps *m)
{
	if (!ciliate_config.shared) {
		m->policy = &cilium_policy_v2;
		m->stats = &policy_stats;
		m->config = &policy_config;
		return 0;
	}
	m->policy = bpf_map_lookup_elem(&ciliate_policy_maps, &endpoint_id);
	m->stats = bpf_map_lookup_elem(&ciliate_policy_stats_maps, &endpoint_id);
	m->config = bpf_map_lookup_elem(&ciliate_policy_config_maps, &endpoint_id);
	return m->policy && m->stats && m->config ? 0 : -1;
}

/* The decision for a new flow. verdict is VERDICT_FORWARDED or a drop reason. */
struct policy_verdict {
	int verdict;
	__u32 entry_id;
	__u16 proxy_port;
	__u8 match_type;
	__u8 matched;
};

static __always_inline __u8 policy_match_type(int l3, __u8 prefix_len)
{
	if (prefix_len == 0)
		return l3 ? POLICY_MATCH_L3_ONLY : POLICY_MATCH_ALL;
	if (prefix_len == 8)
		return l3 ? POLICY_MATCH_L3_PROTO : POLICY_MATCH_PROTO_ONLY;
	return l3 ? POLICY_MATCH_L3_L4 : POLICY_MATCH_L4_ONLY;
}

/* Picks between the peer-specific and the wildcard entry: deny wins, then longer port/proto prefix,
 * then the peer-specific one. Returns 1 when the wildcard entry is chosen. */
static __always_inline int policy_prefer_wildcard(const struct policy_entry *l3, const struct policy_entry *any)
{
	if (!l3)
		return 1;
	if ((l3->flags ^ any->flags) & POLICY_F_DENY)
		return !!(any->flags & POLICY_F_DENY);
	return any->prefix_len > l3->prefix_len;
}

static __always_inline void policy_count(const struct policy_maps *m, __u32 entry_id, __u32 len)
{
	struct policy_stats *s = bpf_map_lookup_elem(m->stats, &entry_id);

	if (s) {
		s->packets++;
		s->bytes += len;
	}
}

/* The port policy matches: the destination port, or for ICMP the message type (as upstream's icmps). */
static __always_inline __be16 policy_dport(const struct pkt *p)
{
	return p->tuple.proto == IPPROTO_ICMP ? bpf_htons(p->icmp_type) : p->tuple.dport;
}

/* Evaluates the endpoint's policy for a packet that opens a flow. */
static __always_inline struct policy_verdict policy_check(const struct pkt *p, const struct policy_maps *m)
{
	struct policy_key key = {
		.prefixlen = POLICY_FULL_PREFIX,
		.sec_label = p->remote_identity,
		.egress = p->tuple.dir == DIR_EGRESS,
		.protocol = p->tuple.proto,
		.dport = policy_dport(p),
	};
	struct policy_verdict v = {};
	struct policy_entry *l3, *any, *hit;
	struct policy_config *cfg;
	__u32 zero = 0;
	int wildcard;

	l3 = bpf_map_lookup_elem(m->policy, &key);
	key.sec_label = 0;
	any = bpf_map_lookup_elem(m->policy, &key);
	hit = l3;
	wildcard = 0;
	if (any && policy_prefer_wildcard(l3, any)) {
		hit = any;
		wildcard = 1;
	}
	if (hit) {
		v.matched = 1;
		v.entry_id = hit->entry_id;
		v.proxy_port = hit->proxy_port;
		v.match_type = policy_match_type(!wildcard, hit->prefix_len);
		v.verdict = (hit->flags & POLICY_F_DENY) ? DROP_POLICY_DENYLIST : VERDICT_FORWARDED;
		policy_count(m, v.entry_id, p->len);
		return v;
	}
	cfg = bpf_map_lookup_elem(m->config, &zero);
	if (cfg && (p->tuple.dir == DIR_EGRESS ? cfg->egress_enforced : cfg->ingress_enforced))
		v.verdict = DROP_POLICY_DENIED;
	return v;
}

#endif
