/* Per-endpoint policy: two LPM lookups (peer identity, wildcard identity) with upstream precedence. */
#ifndef CILIATE_POLICY_H
#define CILIATE_POLICY_H

#include "common.h"

/* Bits of policy_key before protocol and port: sec_label (32) + egress (8). */
#define POLICY_STATIC_PREFIX 40
#define POLICY_FULL_PREFIX (POLICY_STATIC_PREFIX + 24)

/* policy_entry.flags bits. */
#define POLICY_F_DENY 0x1

/* Upstream policy-verdict match types. */
#define POLICY_MATCH_NONE 0
#define POLICY_MATCH_L3_ONLY 1
#define POLICY_MATCH_L3_L4 2
#define POLICY_MATCH_L4_ONLY 3
#define POLICY_MATCH_ALL 4
#define POLICY_MATCH_L3_PROTO 5
#define POLICY_MATCH_PROTO_ONLY 6

/* LPM key: prefixlen = 40 + protocol/port bits. sec_label 0 = any peer; egress 0/1; dport network order. */
struct policy_key {
	__u32 prefixlen;
	__u32 sec_label;
	__u8 egress;
	__u8 protocol;
	__be16 dport;
};

/* Rule outcome. prefix_len repeats the key's protocol+port bits (0..24), which an LPM lookup cannot return.
 * proxy_port is network order (0 = no L7 redirect); entry_id indexes policy_stats (0 is reserved for
 * traffic no entry matched, i.e. default allow). */
struct policy_entry {
	__be16 proxy_port;
	__u8 flags;
	__u8 prefix_len;
	__u32 entry_id;
};

/* Per-entry counters, indexed by policy_entry.entry_id. */
struct policy_stats {
	__u64 packets;
	__u64 bytes;
};

/* Per-endpoint enforcement: 1 = default deny in that direction (some rule selects it), 0 = default allow. */
struct policy_config {
	__u8 ingress_enforced;
	__u8 egress_enforced;
	__u16 pad;
};

#define POLICY_MAP_MAX 16384

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
	__uint(max_entries, POLICY_MAP_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cilium_policy_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct policy_stats);
	__uint(max_entries, POLICY_MAP_MAX);
} policy_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct policy_config);
	__uint(max_entries, 1);
} policy_config SEC(".maps");

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

static __always_inline void policy_count(__u32 entry_id, __u32 len)
{
	struct policy_stats *s = bpf_map_lookup_elem(&policy_stats, &entry_id);

	if (s) {
		s->packets++;
		s->bytes += len;
	}
}

/* Evaluates the endpoint's policy for a packet that opens a flow. */
static __always_inline struct policy_verdict policy_check(const struct pkt *p)
{
	struct policy_key key = {
		.prefixlen = POLICY_FULL_PREFIX,
		.sec_label = p->remote_identity,
		.egress = p->tuple.dir == DIR_EGRESS,
		.protocol = p->tuple.proto,
		.dport = p->tuple.dport,
	};
	struct policy_verdict v = {};
	struct policy_entry *l3, *any, *hit;
	struct policy_config *cfg;
	__u32 zero = 0;
	int wildcard;

	l3 = bpf_map_lookup_elem(&cilium_policy_v2, &key);
	key.sec_label = 0;
	any = bpf_map_lookup_elem(&cilium_policy_v2, &key);
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
		policy_count(v.entry_id, p->len);
		return v;
	}
	cfg = bpf_map_lookup_elem(&policy_config, &zero);
	if (cfg && (p->tuple.dir == DIR_EGRESS ? cfg->egress_enforced : cfg->ingress_enforced))
		v.verdict = DROP_POLICY_DENIED;
	return v;
}

#endif
