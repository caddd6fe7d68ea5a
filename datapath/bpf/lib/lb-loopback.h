/* Service hairpin: a pod's connection to a frontend whose chosen backend is the pod itself. Routed
 * back as it is, the packet would reach the pod from its own address, which the pod's kernel refuses.
 * So on the pod's egress, once policy admitted it, the packet leaves from the service loopback address
 * (ciliate_config.service_loopback_ip, the port kept) and goes straight back into the pod through the
 * ingress stages of the same interface, where the pod's ingress policy judges it as coming from the
 * pod's own identity. The pod answers the loopback address; that answer, a reply of the tracked ingress
 * flow, gets the pod's own address back as its destination and is turned around the same way, and the
 * ingress stages give it the frontend as its source (lb-pod.h) as for any service reply. Both flows are
 * marked in conntrack, and their events carry FLOW_F_SERVICE_LOOPBACK. */
#ifndef CILIATE_LB_LOOPBACK_H
#define CILIATE_LB_LOOPBACK_H

#include "common.h"
#include "config.h"
#include "conntrack.h"
#include "lb-rewrite.h"
#include "return.h"

/* Ciliate's skb mark on a packet turned back into its pod: only such a packet is trusted to come from
 * the loopback address (a mark never crosses into the node's namespace from a pod). */
#define MARK_MAGIC_SERVICE_LOOPBACK 0x0800

/* Pod egress, once the backend is chosen: a connection whose backend is its own client is a hairpin. */
static __always_inline void lb4_loopback_mark_backend(struct pkt *p, __be32 backend)
{
	if (backend == p->tuple.saddr)
		p->flags |= PKT_F_SERVICE_LOOPBACK;
}

/* Pod ingress: a hairpinned connection turned back by the egress stage (the mark is cleared). */
static __always_inline void lb4_loopback_mark_arrival(struct __sk_buff *skb, struct pkt *p)
{
	if (skb->mark != MARK_MAGIC_SERVICE_LOOPBACK)
		return;
	skb->mark = 0;
	if (p->tuple.saddr == ciliate_config.service_loopback_ip)
		p->flags |= PKT_F_SERVICE_LOOPBACK;
}

/* After conntrack: every packet of a hairpinned flow is marked. */
static __always_inline void lb4_loopback_note(struct pkt *p, const struct ct_entry *e)
{
	if (e && (e->flags & CT_F_SERVICE_LOOPBACK))
		p->flags |= PKT_F_SERVICE_LOOPBACK;
}

/* Once the peer is resolved: a hairpinned flow's peer is the pod itself. */
static __always_inline void lb4_loopback_peer(struct pkt *p)
{
	if (p->flags & PKT_F_SERVICE_LOOPBACK)
		p->remote_identity = p->local_identity;
}

/* Pod egress, once admitted: the connection's packet leaves from the loopback address, the reply's
 * goes to the pod's own address (its source), and either is sent back into the pod. */
static __always_inline int lb4_loopback_turn(struct __sk_buff *skb, const struct pkt *p)
{
	__be32 loopback = ciliate_config.service_loopback_ip;
	const struct ct_key *t = &p->tuple;
	int rc;

	if (t->daddr == loopback)
		rc = lb4_rewrite(skb, t->proto, 0, loopback, t->saddr, t->dport, t->dport);
	else
		rc = lb4_rewrite(skb, t->proto, 1, t->saddr, loopback, t->sport, t->sport);
	if (rc != CTX_ACT_OK)
		return rc;
	skb->mark = MARK_MAGIC_SERVICE_LOOPBACK;
	return return_to_sender(skb);
}

#endif
