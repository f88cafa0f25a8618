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
	/* the exporter unit's services (all R) */
	KSHIM_OP_DOWN_WRITE = 19,
	KSHIM_OP_UP_WRITE = 20,
	KSHIM_OP_ASSERT_WRITE = 21,
	KSHIM_OP_RESV_LOCK = 22,
	KSHIM_OP_RESV_UNLOCK = 23,
	KSHIM_OP_GET_FILE_ACTIVE = 24,
	KSHIM_OP_FPUT = 25,
	KSHIM_OP_EXPORT = 26,
	KSHIM_OP_DMA_BUF_FD = 27,
	KSHIM_OP_MOVE_NOTIFY = 28,
	KSHIM_OP_REG_TRYGET = 29,
	KSHIM_OP_REG_PUT = 30,
	KSHIM_OP_MEM_ENABLED = 31,
	KSHIM_OP_PROVIDER = 33,
	/* the route unit's services */
	KSHIM_OP_PCI_READ_CONFIG = 34, /* R: (error, value) */
	/* unit -> runner: the end of a request */
	KSHIM_OP_DONE = 32,
};

/* runner -> unit */
enum kshim_req {
	KSHIM_REQ_QUIT = 1,
	KSHIM_REQ_CONV_MAP = 2,
	KSHIM_REQ_CONV_UNMAP = 3,
	/* the exporter unit (c/units/exporter.c), on channels 1.. */
	KSHIM_REQ_EXP_PROBE = 16,
	KSHIM_REQ_EXP_CREATE = 17,
	KSHIM_REQ_EXP_MOVE = 18,
	KSHIM_REQ_EXP_CLEANUP = 19,
	KSHIM_REQ_EXP_ATTACH = 20,
	KSHIM_REQ_EXP_MAP = 21,
	KSHIM_REQ_EXP_UNMAP = 22,
	KSHIM_REQ_EXP_RELEASE = 23,
	KSHIM_REQ_EXP_REVOKED = 24,
	KSHIM_REQ_EXP_IOMMUFD_MAP = 25,
	KSHIM_REQ_EXP_UNBIND = 26,
	KSHIM_REQ_EXP_FREE_DMABUF = 27,
	KSHIM_REQ_EXP_PHYS_VEC = 28,
	/* the route unit (c/units/route.c), on channel 0 */
	KSHIM_REQ_ROUTE_SETUP = 40,
	KSHIM_REQ_ROUTE_INIT = 41,
	KSHIM_REQ_ROUTE_PROVIDER = 42,
	KSHIM_REQ_ROUTE_MAP_TYPE = 43,
	KSHIM_REQ_ROUTE_CALC = 44,
	KSHIM_REQ_ROUTE_DIST_MANY = 45,
	/* the reply to a worker's service call: header op | channel << 16 */
	KSHIM_REQ_REPLY = 0xff,
};

void kshim_send(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs);
void kshim_call(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs, u64 reply[2]);
u64 kshim_call1(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs);
u32 kshim_str(const char *s);
void kshim_flush(void);

#endif /* KSHIM_BRIDGE_H */
