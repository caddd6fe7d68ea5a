/* Seam for overlay encapsulation: runs after policy admitted a packet; p->tunnel_endpoint comes from the
 * ipcache. A VXLAN stage would encapsulate and redirect here. Empty for now. */
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
