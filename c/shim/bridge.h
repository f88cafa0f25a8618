/* SPDX-License-Identifier: MIT */
/* bridge.h - message ops of the runner protocol; keep in step with src/kernel-c/protocol.ts. */
#ifndef KSHIM_BRIDGE_H
#define KSHIM_BRIDGE_H

#include <kshim.h>

enum kshim_op {
	/* unit -> runner: services (R: waits for a two-word reply) */
	KSHIM_OP_STR = 1,
	KSHIM_OP_RESV_ASSERT = 2,
	KSHIM_OP_ALLOC = 3, /* R */
	KSHIM_OP_FREE = 4,
	KSHIM_OP_MAP_TYPE = 5, /* R */
	KSHIM_OP_BUS_ADDR_MAP = 6, /* R */
	KSHIM_OP_SG_ALLOC = 7, /* R */
	KSHIM_OP_SG_FREE = 8,
	KSHIM_OP_IOVA_TRY_ALLOC = 9, /* R */
	KSHIM_OP_IOVA_LINK = 10, /* R */
	KSHIM_OP_IOVA_SYNC = 11, /* R */
	KSHIM_OP_IOVA_DESTROY = 12,
	KSHIM_OP_IOVA_FREE = 13,
	KSHIM_OP_MAP_PHYS = 14, /* R */
	KSHIM_OP_MAPPING_ERROR = 15, /* R */
	KSHIM_OP_UNMAP_PHYS = 16,
	KSHIM_OP_WARN = 17,
	KSHIM_OP_NULL_SG = 18,
	/* unit -> runner: the end of a request */
	KSHIM_OP_DONE = 32,
};

/* runner -> unit */
enum kshim_req {
	KSHIM_REQ_QUIT = 1,
	KSHIM_REQ_CONV_MAP = 2,
	KSHIM_REQ_CONV_UNMAP = 3,
};

void kshim_send(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs);
void kshim_call(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs, u64 reply[2]);
u64 kshim_call1(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs);
u32 kshim_str(const char *s);
void kshim_flush(void);

#endif /* KSHIM_BRIDGE_H */
