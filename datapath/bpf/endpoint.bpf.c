// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Endpoint programs for the host side of a pod's veth: loaded once per endpoint (the endpoint fixed at
 * load time) or once per node and shared (the endpoint looked up by interface; see config.h).
 * cil_from_container: tc ingress of the host veth = traffic the pod sends (endpoint egress).
 * cil_to_container:   tc egress of the host veth  = traffic to the pod (endpoint ingress).
 * Stages: parse -> lb -> conntrack -> ipcache + policy (a flow's first packet) -> overlay (seam), or for
 * a pod's connection to itself through a service, back into the pod (lb-loopback.h); counters and
 * aggregated flow events at every verdict. Established and reply packets look the ipcache up only when
 * they are reported. */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/parse.h"
#include "lib/lb-pod.h"
#include "lib/lb-reject.h"
#include "lib/ipcache.h"
#include "lib/conntrack.h"
#include "lib/policy.h"
#include "lib/endpoint-info.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/overlay.h"
#include "lib/proxy.h"

static __always_inline int drop_packet(const struct pkt *p, __u8 reason, __u8 match_type, __u32 entry_id,
				       __u64 now)
{
	struct event_info info = {
		.type = EVENT_DROP, .reason = reason, .match_type = match_type,
		.ct_state = CT_NEW, .entry_id = entry_id,
	};

	metrics_count(reason, p->tuple.dir, p->len);
	event_drop(p, &info, now);
	return CTX_ACT_DROP;
}

/* Sends an admitted packet on: back into its pod when it is a hairpinned packet leaving it, otherwise
 * to the overlay stage. */
static __always_inline int forward(struct __sk_buff *skb, const struct pkt *p)
{
	if ((p->flags & PKT_F_SERVICE_LOOPBACK) && p->tuple.dir == DIR_EGRESS)
		return lb4_loopback_turn(skb, p);
	return overlay_forward(skb, p);
}

/* The peer's identity (and tunnel endpoint): from the ipcache, or the pod's own on a hairpinned flow.
 * Only a flow's first packet and the packets that are reported need it. */
static __always_inline void resolve_peer(struct pkt *p)
{
	ipcache_resolve(p);
	lb4_loopback_peer(p);
}

static __always_inline int handle_new_flow(struct __sk_buff *skb, struct pkt *p, const struct policy_maps *m, __u64 now)
{
	struct policy_verdict v = policy_check(p, m);

	if (v.verdict != VERDICT_FORWARDED)
		return drop_packet(p, v.verdict, v.match_type, v.entry_id, now);
	ct_create(p, now, v.entry_id, v.proxy_port, v.match_type);
	metrics_count(VERDICT_FORWARDED, p->tuple.dir, p->len);
	struct event_info info = {
		.type = EVENT_POLICY_VERDICT, .reason = VERDICT_FORWARDED, .match_type = v.match_type,
		.ct_state = CT_NEW, .entry_id = v.entry_id, .proxy_port = v.proxy_port,
		.packets = 1, .bytes = p->len,
	};
	event_emit(p, &info, now);
	if (proxy_wants(skb, v.proxy_port, p->tuple.dir))
		return proxy_redirect(skb, p, v.proxy_port);
	return forward(skb, p);
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	struct pkt p = { .tuple = { .dir = dir }, .ifindex = skb->ifindex };
	__u64 now = bpf_ktime_get_ns();
	struct policy_maps maps;
	struct ct_result ct;
	int rc;

	if (dir == DIR_INGRESS && lb4_is_reject(skb))
		return CTX_ACT_OK;
	if (dir == DIR_EGRESS && proxy_is_handed_back(skb))
		return CTX_ACT_OK;
	if (endpoint_resolve(&p, &maps) < 0) {
		/* An interface the shared programs do not know (yet, or any more): fail closed. */
		parse_packet(skb, &p);
		return drop_packet(&p, DROP_NO_LXC, POLICY_MATCH_NONE, 0, now);
	}
	rc = parse_packet(skb, &p);
	if (rc == PARSE_ARP)
		return CTX_ACT_OK;
	/* IPv4-only: anything else (IPv6 between pods, for one) has no policy, so it does not pass. Its
	 * drop is reported with the ethertype as destination port and the endpoint id as source port,
	 * which also keeps different endpoints' drops apart when they are aggregated. */
	if (rc == PARSE_NOT_IPV4) {
		p.tuple.sport = bpf_htons((__u16)p.endpoint_id);
		return drop_packet(&p, DROP_UNKNOWN_L3, POLICY_MATCH_NONE, 0, now);
	}
	if (rc != PARSE_OK)
		return drop_packet(&p, DROP_INVALID_PACKET, POLICY_MATCH_NONE, 0, now);
	rc = lb_translate(skb, &p);
	if (rc == LB_NO_BACKEND) {
		ipcache_resolve(&p);
		drop_packet(&p, DROP_NO_SERVICE, POLICY_MATCH_NONE, 0, now);
		return lb4_reject(skb);
	}
	if (rc != CTX_ACT_OK)
		return rc;
	ct = ct_lookup(&p, now);
	lb4_loopback_note(&p, ct.entry);
	if (ct.state == CT_NEW) {
		resolve_peer(&p);
		return handle_new_flow(skb, &p, &maps, now);
	}
	if (ct.entry) {
		int side = ct.state == CT_REPLY;

		/* Every packet of an admitted flow counts against the entry that admitted it. */
		policy_count(&maps, ct.entry->entry_id, p.len);
		if (event_flow_due(&p, ct.entry, side, now)) {
			resolve_peer(&p);
			event_flow_report(&p, ct.entry, side, ct.state, now);
		}
		/* A reply belongs to the flow (and the entry) of the other direction. */
		__u8 entry_dir = ct.state == CT_REPLY ? (dir == DIR_EGRESS ? DIR_INGRESS : DIR_EGRESS) : dir;

		if (proxy_wants(skb, ct.entry->proxy_port, entry_dir)) {
			metrics_count(VERDICT_FORWARDED, p.tuple.dir, p.len);
			return proxy_redirect(skb, &p, ct.entry->proxy_port);
		}
	}
	metrics_count(VERDICT_FORWARDED, p.tuple.dir, p.len);
	return forward(skb, &p);
}

SEC("tc")
int cil_from_container(struct __sk_buff *skb)
{
	return handle(skb, DIR_EGRESS);
}

SEC("tc")
int cil_to_container(struct __sk_buff *skb)
{
	return handle(skb, DIR_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
