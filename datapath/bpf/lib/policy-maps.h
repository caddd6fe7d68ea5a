/* Per-endpoint policy state: key and value layouts and the three maps every endpoint owns. One
 * definition serves the per-endpoint programs, the endpoint-maps object that creates an endpoint's
 * maps for the shared programs, and the shared programs' outer maps (their inner-map templates). */
#ifndef CILIATE_POLICY_MAPS_H
#define CILIATE_POLICY_MAPS_H

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

/* Map definitions, as types so the outer maps can name them as their inner maps. */
#define POLICY_MAP_DEF struct {						\
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);				\
	__type(key, struct policy_key);					\
	__type(value, struct policy_entry);				\
	__uint(max_entries, POLICY_MAP_MAX);				\
	__uint(map_flags, BPF_F_NO_PREALLOC);				\
}
#define POLICY_STATS_DEF struct {					\
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);			\
	__type(key, __u32);						\
	__type(value, struct policy_stats);				\
	__uint(max_entries, POLICY_MAP_MAX);				\
}
#define POLICY_CONFIG_DEF struct {					\
	__uint(type, BPF_MAP_TYPE_ARRAY);				\
	__type(key, __u32);						\
	__type(value, struct policy_config);				\
	__uint(max_entries, 1);						\
}

POLICY_MAP_DEF cilium_policy_v2 SEC(".maps");
POLICY_STATS_DEF policy_stats SEC(".maps");
POLICY_CONFIG_DEF policy_config SEC(".maps");

#endif
