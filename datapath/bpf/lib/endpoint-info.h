/* Which endpoint a packet belongs to: fixed at load time for per-endpoint programs, looked up by the
 * host-side interface for the node's shared programs. */
#ifndef CILIATE_ENDPOINT_INFO_H
#define CILIATE_ENDPOINT_INFO_H

#include "common.h"
#include "config.h"
#include "policy.h"

/* One local endpoint, keyed by the ifindex of its host-side veth. */
struct endpoint_info {
	__u32 endpoint_id;
	__u32 identity;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct endpoint_info);
	__uint(max_entries, ENDPOINT_ID_MAX);
} ciliate_endpoint_info SEC(".maps");

/* Fills p's endpoint id and identity and finds its policy maps; -1 when the interface is not (or no
 * longer) a registered endpoint, which the caller drops as DROP_NO_LXC. */
static __always_inline int endpoint_resolve(struct pkt *p, struct policy_maps *m)
{
	if (ciliate_config.shared) {
		__u32 ifindex = p->ifindex;
		struct endpoint_info *info = bpf_map_lookup_elem(&ciliate_endpoint_info, &ifindex);

		if (!info)
			return -1;
		p->endpoint_id = info->endpoint_id;
		p->local_identity = info->identity;
	} else {
		p->endpoint_id = ciliate_config.endpoint_id;
		p->local_identity = ciliate_config.identity;
	}
	return policy_maps_of(p->endpoint_id, m);
}

#endif
