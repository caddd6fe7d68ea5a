// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Programs for the node's device on the node network.
 * cil_from_netdev: tc ingress = traffic arriving from the node network (NodePort, externalIP and
 *                  LoadBalancer frontends are translated; replies of SNATed flows turned around).
 * cil_to_netdev:   tc egress = traffic leaving for the node network (local backends' replies get
 *                  their frontend back as the source).
 * They share the node's LB maps with the endpoint programs (pinned, reused by name). */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/parse.h"
#include "lib/ipcache.h"
#include "lib/counters.h"
#include "lib/events.h"
#include "lib/nodeport.h"
#include "lib/lb-reject.h"

static __always_inline int netdev_handle(struct __sk_buff *skb, __u8 dir)
{
	struct pkt p = { .tuple = { .dir = dir }, .ifindex = skb->ifindex, .local_identity = IDENTITY_HOST };
	int rc;

	if (lb4_is_reject(skb))
		return CTX_ACT_OK;
	if (parse_packet(skb, &p) != PARSE_OK)
		return CTX_ACT_OK;
	if (p.tuple.proto != IPPROTO_TCP && p.tuple.proto != IPPROTO_UDP)
		return CTX_ACT_OK;
	if (dir == DIR_EGRESS)
		return nodeport_egress(skb, &p);
	rc = nodeport_ingress(skb, &p);
	if (rc != LB_NO_BACKEND)
		return rc;
	ipcache_resolve(&p);
	struct event_info info = { .type = EVENT_DROP, .reason = DROP_NO_SERVICE, .ct_state = CT_NEW };
	metrics_count(DROP_NO_SERVICE, dir, p.len);
	event_drop(&p, &info, bpf_ktime_get_ns());
	return lb4_reject(skb);
}

SEC("tc")
int cil_from_netdev(struct __sk_buff *skb)
{
	return netdev_handle(skb, DIR_INGRESS);
}

SEC("tc")
int cil_to_netdev(struct __sk_buff *skb)
{
	return netdev_handle(skb, DIR_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
