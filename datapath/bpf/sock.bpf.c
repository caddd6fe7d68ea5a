// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Socket-level service translation, for processes in the node's cgroup v2 directory:
 * cil_sock4_connect:     connect() to a frontend goes to a backend (TCP, and connected UDP);
 * cil_sock4_sendmsg:     an unconnected UDP send to a frontend goes to a backend;
 * cil_sock4_recvmsg:     a UDP reply from that backend reads as coming from the frontend;
 * cil_sock4_getpeername: a connected socket's peer reads as the frontend.
 * The packets then carry the backend from the first one on: nothing is rewritten per packet, and
 * policy sees the backend. Frontends with session affinity or Maglev, and frontends without
 * backends, are left to the per-packet path (lb-pod.h), which keys those by the client's address
 * and rejects at once. */
#include "lib/common.h"
#include <linux/in.h>
#include "lib/config.h"
#include "lib/lb.h"
#include "lib/lb-select.h"

/* Picks a backend for a socket addressed to a frontend and rewrites the address; 1 = let it go on. */
static __always_inline int sock4_translate(struct bpf_sock_addr *ctx, __u8 proto)
{
	struct lb4_key key = { .address = ctx->user_ip4, .dport = (__be16)ctx->user_port, .proto = proto };
	struct lb4_service *svc = lb4_lookup_service(&key, 1);
	struct lb4_ct_entry be = {};

	if (!svc || svc->count == 0 || (svc->flags & SVC_FLAG_AFFINITY) || (svc->flags2 & SVC_FLAG2_MAGLEV))
		return 1;
	if (!lb4_slot_backend(key, (bpf_get_prandom_u32() % svc->count) + 1, svc, &be))
		return 1;
	struct lb4_sock_key sk = { .cookie = bpf_get_socket_cookie(ctx), .address = be.backend_addr, .port = be.backend_port };
	struct lb4_sock_frontend fe = { .address = ctx->user_ip4, .port = (__be16)ctx->user_port, .rev_nat_index = svc->rev_nat_index };

	bpf_map_update_elem(&cilium_lb4_reverse_sk, &sk, &fe, BPF_ANY);
	ctx->user_ip4 = be.backend_addr;
	ctx->user_port = be.backend_port;
	return 1;
}

/* Shows the frontend where the socket sees the backend it was translated to. */
static __always_inline int sock4_reverse(struct bpf_sock_addr *ctx)
{
	struct lb4_sock_key sk = { .cookie = bpf_get_socket_cookie(ctx), .address = ctx->user_ip4, .port = (__be16)ctx->user_port };
	struct lb4_sock_frontend *fe = bpf_map_lookup_elem(&cilium_lb4_reverse_sk, &sk);

	if (fe) {
		ctx->user_ip4 = fe->address;
		ctx->user_port = fe->port;
	}
	return 1;
}

SEC("cgroup/connect4")
int cil_sock4_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	return sock4_translate(ctx, ctx->protocol);
}

SEC("cgroup/sendmsg4")
int cil_sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock4_translate(ctx, IPPROTO_UDP);
}

SEC("cgroup/recvmsg4")
int cil_sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock4_reverse(ctx);
}

SEC("cgroup/getpeername4")
int cil_sock4_getpeername(struct bpf_sock_addr *ctx)
{
	return sock4_reverse(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
