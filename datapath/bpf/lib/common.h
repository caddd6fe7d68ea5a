/* Shared includes, constants and the per-packet context passed between datapath stages. */
#ifndef CILIATE_COMMON_H
#define CILIATE_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Traffic direction as seen from the endpoint (matches upstream metrics: 1 ingress, 2 egress). */
#define DIR_INGRESS 1
#define DIR_EGRESS 2

/* Reserved security identities (upstream numbering). */
#define IDENTITY_UNKNOWN 0
#define IDENTITY_HOST 1
#define IDENTITY_WORLD 2

/* Verdict carried in events and counters: 0 forwarded, otherwise an upstream drop reason. */
#define VERDICT_FORWARDED 0

/* Upstream drop reasons used by this datapath (pkg/monitor/api/drop.go numbering). */
#define DROP_INVALID_PACKET 134
#define DROP_POLICY_DENIED 133
#define DROP_POLICY_DENYLIST 181
#define DROP_NO_SERVICE 158
#define DROP_NO_LXC 152
#define DROP_UNKNOWN_L3 139

/* One read of a field other CPUs write (the compiler neither repeats nor caches it). */
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))

/* What the stage pipeline decides for a packet. */
#define CTX_ACT_OK TC_ACT_OK
#define CTX_ACT_DROP TC_ACT_SHOT

/* A flow in one orientation plus the endpoint-relative direction: the packet's identity and, as stored
 * in the map, the conntrack key (in the orientation of the flow's first packet). */
struct ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;
	__u16 pad;
};

/* pkt.flags: the packet belongs to a pod's connection to itself through a service (lb-loopback.h). */
#define PKT_F_SERVICE_LOOPBACK 0x1

/* Per-packet state threaded through parse -> lb -> ipcache -> conntrack -> policy -> overlay. */
struct pkt {
	struct ct_key tuple;
	__u8 tcp_flags;
	__u8 flags;
	/* ICMP: the message type, which policy matches in place of a destination port. */
	__u8 icmp_type;
	__u8 pad;
	__u32 len;
	__u32 ifindex;
	__u32 local_identity;
	__u32 remote_identity;
	__be32 tunnel_endpoint;
	/* The local endpoint the packet belongs to (0: the node itself). */
	__u32 endpoint_id;
};

#endif
