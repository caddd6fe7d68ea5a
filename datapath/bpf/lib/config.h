/* Load-time constants of one program pair (an endpoint's, or the node device's), set by the loader before load. */
#ifndef CILIATE_CONFIG_H
#define CILIATE_CONFIG_H

#include "common.h"

/* Everything the loader configures per endpoint; one struct so TypeScript has one codec for it. */
struct endpoint_config {
	__u32 endpoint_id;
	__u32 identity;
	__u64 aggregation_interval_ns;
	__u64 ct_lifetime_tcp_ns;
	__u64 ct_lifetime_other_ns;
	__u32 wakeup_bytes;
	/* This node's address on the node network (network order): the SNAT address of NodePort flows. */
	__be32 node_ip;
	/* Entries of each Maglev lookup table (a prime; 0 = upstream's default 16381). */
	__u32 maglev_table_size;
	/* 1: one program pair serves every endpoint of the node. endpoint_id and identity above are
	 * unused; each packet's endpoint is looked up by interface (ciliate_endpoint_info) and its
	 * policy maps by endpoint id (the ciliate_*_maps outer maps). */
	__u32 shared;
	/* The source (network order) a pod sees on a connection it made to itself through a service
	 * (upstream's ipv4-service-loopback-address); set by the loader. */
	__be32 service_loopback_ip;
};

/* The single rodata variable; its BTF offset lets the loader patch it by name. */
const volatile struct endpoint_config ciliate_config = {
	.aggregation_interval_ns = 1000000000ULL,
	.ct_lifetime_tcp_ns = 21600ULL * 1000000000ULL,
	.ct_lifetime_other_ns = 60ULL * 1000000000ULL,
	.wakeup_bytes = 1 << 20,
};

#endif
