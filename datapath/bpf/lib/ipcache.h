/* IPCache: longest-prefix match from an address to the peer's security identity and tunnel endpoint. */
#ifndef CILIATE_IPCACHE_H
#define CILIATE_IPCACHE_H

#include "common.h"

#define IPCACHE_FAMILY_IPV4 1
/* Bits of the key before the address: cluster_id + pad + family. */
#define IPCACHE_STATIC_PREFIX 32

/* LPM key: prefixlen counts the static 32 bits plus the address prefix. Address in network order. */
struct ipcache_key {
	__u32 prefixlen;
	__u16 cluster_id;
	__u8 pad;
	__u8 family;
	__u8 addr[16];
};

/* What the agent knows about a prefix. tunnel_endpoint is network order (0 = local / no tunnel). */
struct remote_endpoint_info {
	__u32 sec_identity;
	__be32 tunnel_endpoint;
	__u16 pad;
	__u8 key;
	__u8 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, 512000);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cilium_ipcache SEC(".maps");

/* Resolves the peer address into p->remote_identity (world when unknown) and p->tunnel_endpoint. */
static __always_inline void ipcache_resolve(struct pkt *p)
{
	struct ipcache_key key = {
		.prefixlen = IPCACHE_STATIC_PREFIX + 32,
		.family = IPCACHE_FAMILY_IPV4,
	};
	struct remote_endpoint_info *info;
	__be32 peer = p->tuple.dir == DIR_EGRESS ? p->tuple.daddr : p->tuple.saddr;

	__builtin_memcpy(key.addr, &peer, sizeof(peer));
	info = bpf_map_lookup_elem(&cilium_ipcache, &key);
	if (info) {
		p->remote_identity = info->sec_identity;
		p->tunnel_endpoint = info->tunnel_endpoint;
	} else {
		p->remote_identity = IDENTITY_WORLD;
	}
}

#endif
