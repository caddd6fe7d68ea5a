/* Flow events to a ring buffer, aggregated per flow and submitted without waking the reader
 * until a backlog builds up; events that find the ring full are counted as lost. */
#ifndef CILIATE_EVENTS_H
#define CILIATE_EVENTS_H

#include "common.h"
#include "config.h"
#include "conntrack.h"
#include "parse.h"

/* Upstream monitor message types. */
#define EVENT_DROP 1
#define EVENT_TRACE 4
#define EVENT_POLICY_VERDICT 5

/* flow_event.flags: the flow is a pod's connection to itself through a service. */
#define FLOW_F_SERVICE_LOOPBACK 0x1

/* One flow observation. packets/bytes cover everything aggregated into it since the previous event. */
struct flow_event {
	__u8 type;
	__u8 reason;
	__u16 source;
	__u8 dir;
	__u8 match_type;
	__u8 proto;
	__u8 tcp_flags;
	__u64 ts_ns;
	__u32 src_identity;
	__u32 dst_identity;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 ifindex;
	__u32 entry_id;
	__be16 proxy_port;
	__u8 ct_state;
	__u8 flags;
	__u32 packets;
	__u64 bytes;
};

/* Present only so that struct flow_event is in the object's BTF for the generated codecs; never read. */
const volatile struct flow_event ciliate_flow_event_layout;

/* Aggregation state of dropped flows (admitted flows keep theirs in the conntrack entry). */
struct drop_aggr {
	__u64 last_report_ns;
	__u32 packets;
	__u32 bytes;
	__u8 reason;
	__u8 report_flags;
	__u16 pad;
	__u32 pad2;
};

/* Index names of the events_stats per-CPU array. */
#define EVENTS_STAT_LOST 0
#define EVENTS_STAT_SENT 1
#define EVENTS_STAT_MAX 2

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} cilium_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct drop_aggr);
	__uint(max_entries, 65536);
} cilium_drop_aggr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, EVENTS_STAT_MAX);
} cilium_events_stats SEC(".maps");

static __always_inline void events_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&cilium_events_stats, &idx);

	if (v)
		(*v)++;
}

/* Fields of an event that the emitting stage knows beyond struct pkt. */
struct event_info {
	__u8 type;
	__u8 reason;
	__u8 match_type;
	__u8 ct_state;
	__u32 entry_id;
	__be16 proxy_port;
	__u32 packets;
	__u64 bytes;
};

/* Reserves, fills and submits one event. The reader is woken only when the backlog passes
 * ciliate_config.wakeup_bytes; otherwise it drains on its own timer. */
static __always_inline void event_emit(const struct pkt *p, const struct event_info *info, __u64 now)
{
	struct flow_event *ev = bpf_ringbuf_reserve(&cilium_events, sizeof(*ev), 0);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!ev) {
		events_stat(EVENTS_STAT_LOST);
		return;
	}
	ev->type = info->type;
	ev->reason = info->reason;
	ev->source = p->endpoint_id;
	ev->dir = p->tuple.dir;
	ev->match_type = info->match_type;
	ev->proto = p->tuple.proto;
	ev->tcp_flags = p->tcp_flags;
	ev->ts_ns = now;
	ev->src_identity = p->tuple.dir == DIR_EGRESS ? p->local_identity : p->remote_identity;
	ev->dst_identity = p->tuple.dir == DIR_EGRESS ? p->remote_identity : p->local_identity;
	ev->saddr = p->tuple.saddr;
	ev->daddr = p->tuple.daddr;
	ev->sport = p->tuple.sport;
	ev->dport = p->tuple.dport;
	ev->ifindex = p->ifindex;
	ev->entry_id = info->entry_id;
	ev->proxy_port = info->proxy_port;
	ev->ct_state = info->ct_state;
	ev->flags = (p->flags & PKT_F_SERVICE_LOOPBACK) ? FLOW_F_SERVICE_LOOPBACK : 0;
	ev->packets = info->packets;
	ev->bytes = info->bytes;
	if (bpf_ringbuf_query(&cilium_events, BPF_RB_AVAIL_DATA) >= ciliate_config.wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(ev, flags);
	events_stat(EVENTS_STAT_SENT);
}

#define REPORT_TCP_FLAGS (TCPF_SYN | TCPF_FIN | TCPF_RST)

/* For a packet of an admitted flow: true when it is to be reported, i.e. the flow's side has not
 * reported within the aggregation interval or the packet shows a new SYN/FIN/RST. side 0 = forward, 1 = reply. */
static __always_inline int event_flow_due(const struct pkt *p, const struct ct_entry *e, int side, __u64 now)
{
	return (p->tcp_flags & REPORT_TCP_FLAGS & ~e->report_flags[side & 1]) ||
	       now - e->last_report_ns[side & 1] >= ciliate_config.aggregation_interval_ns;
}

/* Emits the trace event of a packet event_flow_due picked; the flow's side starts a new interval. */
static __always_inline void event_flow_report(const struct pkt *p, struct ct_entry *e, int side, int ct_state,
					      __u64 now)
{
	e->last_report_ns[side & 1] = now;
	e->report_flags[side & 1] |= p->tcp_flags & REPORT_TCP_FLAGS;
	struct event_info info = {
		.type = EVENT_TRACE, .reason = VERDICT_FORWARDED, .match_type = e->match_type,
		.ct_state = ct_state, .entry_id = e->entry_id, .proxy_port = e->proxy_port,
		.packets = 1, .bytes = p->len,
	};
	event_emit(p, &info, now);
}

/* For a dropped packet: emits a drop event for the first drop of a flow, a changed reason, or once per
 * aggregation interval, carrying the number of drops folded into it. */
static __always_inline void event_drop(const struct pkt *p, const struct event_info *base, __u64 now)
{
	struct drop_aggr *a = bpf_map_lookup_elem(&cilium_drop_aggr, &p->tuple);
	struct event_info info = *base;

	if (a && a->reason == base->reason &&
	    now - a->last_report_ns < ciliate_config.aggregation_interval_ns) {
		a->packets++;
		a->bytes += p->len;
		return;
	}
	info.packets = a ? a->packets + 1 : 1;
	info.bytes = a ? a->bytes + p->len : p->len;
	struct drop_aggr fresh = { .last_report_ns = now, .reason = base->reason };
	bpf_map_update_elem(&cilium_drop_aggr, &p->tuple, &fresh, BPF_ANY);
	event_emit(p, &info, now);
}

#endif
