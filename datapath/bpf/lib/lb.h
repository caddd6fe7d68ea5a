/* Service load balancing: the maps, their key/value structs and the flag bits (tools/btf2ts.ts
 * generates their codecs). The stages live beside it: lb-rewrite.h (address/port rewriting),
 * lb-select.h (backend choice: random, Maglev, session affinity), lb-reject.h (ICMP answer for a
 * service without backends), lb-pod.h (a pod's ClusterIP traffic) and nodeport.h (traffic from the
 * node network to NodePort, externalIP and LoadBalancer frontends). */
#ifndef CILIATE_LB_H
#define CILIATE_LB_H

#include "common.h"

/* Lookup scopes (upstream's): a frontend whose external traffic policy is Local but whose internal
 * one is Cluster has two entries, the external scope holding node-local backends only. */
#define LB_SCOPE_EXT 0
#define LB_SCOPE_INT 1

/* lb4_service.flags (slot 0), upstream's bit numbers. */
#define SVC_FLAG_EXTERNAL_IP (1 << 0)
#define SVC_FLAG_NODEPORT (1 << 1)
#define SVC_FLAG_EXT_LOCAL_SCOPE (1 << 2)
#define SVC_FLAG_AFFINITY (1 << 4)
#define SVC_FLAG_LOADBALANCER (1 << 5)
#define SVC_FLAG_ROUTABLE (1 << 6)
/* lb4_service.flags2 (slot 0): upstream's scope bits, and Ciliate's own bit for Maglev selection. */
#define SVC_FLAG2_INT_LOCAL_SCOPE (1 << 4)
#define SVC_FLAG2_TWO_SCOPES (1 << 5)
#define SVC_FLAG2_MAGLEV (1 << 7)

/* lb4_backend.flags: Ciliate's bit for a backend running on this node (NodePort sends it without SNAT). */
#define BE_FLAG_LOCAL (1 << 7)

/* The default Maglev table size (upstream's default, a prime). */
#define LB_MAGLEV_DEFAULT_SIZE 16381

/* Frontend key. backend_slot 0 is the service entry (count, rev_nat_index); slots 1..count name backends. */
struct lb4_key {
	__be32 address;
	__be16 dport;
	__u16 backend_slot;
	__u8 proto;
	__u8 scope;
	__u8 pad[2];
};

/* Slot 0: count of backends, the reverse-NAT index, flags and, with affinity, the timeout in seconds
 * (in backend_id, as upstream); slot n: backend_id. */
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
	__u8 backend_flags;
	__u8 pad[3];
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

/* Session affinity: the backend a client (by source address) last used for a service. */
struct lb4_affinity_key {
	__be32 client;
	__u16 rev_nat_id;
	__u16 pad;
};

/* When the client last used it (seconds of monotonic time) and the backend. */
struct lb4_affinity_val {
	__u64 last_used;
	__u32 backend_id;
	__u32 pad;
};

/* Whether a backend still serves a service with affinity (written by the agent per pair). */
struct lb_affinity_match {
	__u32 backend_id;
	__u16 rev_nat_id;
	__u16 pad;
};

/* One slot of a service's Maglev lookup table. */
struct lb4_maglev_key {
	__u16 rev_nat_id;
	__u16 pad;
	__u32 slot;
};

/* A NodePort flow's translation, stored under three tuples: the client's (to the frontend, at the
 * node's ingress), the local backend's reply (at the node's egress) and, with SNAT to a remote
 * backend, the remote reply (to nat_addr:nat_port, at the node's ingress). */
struct lb4_nat_entry {
	__be32 backend_addr;
	__be16 backend_port;
	__u16 rev_nat_index;
	__be32 client_addr;
	__be16 client_port;
	__be16 frontend_port;
	__be32 frontend_addr;
	__be32 nat_addr;
	__be16 nat_port;
	__u8 flags;
	__u8 pad;
	__u32 backend_id;
};

/* Socket-level translation: a socket (by cookie) and the backend it was sent to. */
struct lb4_sock_key {
	__u64 cookie;
	__be32 address;
	__be16 port;
	__u16 pad;
};

/* The frontend that socket asked for, restored for getpeername() and recvmsg(). */
struct lb4_sock_frontend {
	__be32 address;
	__be16 port;
	__u16 rev_nat_index;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_sock_key);
	__type(value, struct lb4_sock_frontend);
	__uint(max_entries, 65536);
} cilium_lb4_reverse_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_affinity_key);
	__type(value, struct lb4_affinity_val);
	__uint(max_entries, 65536);
} cilium_lb4_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_affinity_match);
	__type(value, __u8);
	__uint(max_entries, 65536);
} cilium_lb_affinity_match SEC(".maps");

/* Flat rather than upstream's map of arrays: (rev_nat_id, slot) -> backend_id, allocated as used. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_maglev_key);
	__type(value, __u32);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cilium_lb4_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct lb4_nat_entry);
	__uint(max_entries, 131072);
} cilium_lb4_nodeport_nat SEC(".maps");

#endif
