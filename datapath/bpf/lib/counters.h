/* Packet and byte counters per verdict/drop reason and direction (upstream cilium_metrics layout). */
#ifndef CILIATE_COUNTERS_H
#define CILIATE_COUNTERS_H

#include "common.h"

/* reason 0 = forwarded, otherwise a drop reason; dir 1 ingress, 2 egress; line/file locate the drop site. */
struct metrics_key {
	__u8 reason;
	__u8 dir;
	__u16 line;
	__u8 file;
	__u8 pad[3];
};

/* Totals for one metrics_key (per CPU in the map). */
struct metrics_value {
	__u64 count;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct metrics_key);
	__type(value, struct metrics_value);
	__uint(max_entries, 1024);
} cilium_metrics SEC(".maps");

/* Adds one packet of len bytes under (reason, dir). */
static __always_inline void metrics_count(__u8 reason, __u8 dir, __u32 len)
{
	struct metrics_key key = { .reason = reason, .dir = dir };
	struct metrics_value *v = bpf_map_lookup_elem(&cilium_metrics, &key);

	if (v) {
		v->count++;
		v->bytes += len;
		return;
	}
	struct metrics_value init = { .count = 1, .bytes = len };
	bpf_map_update_elem(&cilium_metrics, &key, &init, BPF_NOEXIST);
}

#endif
