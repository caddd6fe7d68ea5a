/* Seam for overlay encapsulation: runs after policy admitted a packet. p->tunnel_endpoint comes from the
 * ipcache for a flow's first packet only (later packets skip the lookup unless reported): a VXLAN stage
 * would keep the tunnel endpoint in the conntrack entry or look it up here, then encapsulate and
 * redirect. Empty for now. */
#ifndef CILIATE_OVERLAY_H
#define CILIATE_OVERLAY_H

#include "common.h"

/* Forwards an admitted packet; returns the tc action. */
static __always_inline int overlay_forward(struct __sk_buff *skb __attribute__((unused)),
					   const struct pkt *p __attribute__((unused)))
{
	return CTX_ACT_OK;
}

#endif
