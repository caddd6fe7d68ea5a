/* Seam for service load balancing: runs before the ipcache and conntrack stages so that policy
 * sees backend addresses (upstream checks L4 policy after service translation). Empty for now. */
#ifndef CILIATE_LB_H
#define CILIATE_LB_H

#include "common.h"

/* Translates a service frontend to a backend in p and the packet. Returns CTX_ACT_OK to continue. */
static __always_inline int lb_translate(struct __sk_buff *skb __attribute__((unused)),
					struct pkt *p __attribute__((unused)))
{
	return CTX_ACT_OK;
}

#endif
