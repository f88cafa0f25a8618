// SPDX-License-Identifier: MIT
/*
 * conversion.c - drives the conversion unit: the PAL -> scatterlist helpers
 * of the kernel under test (dma_buf_map/dma_buf_unmap of 002 v8 06/11, or
 * dma_buf_phys_vec_to_sgt/dma_buf_free_sgt of drivers/dma-buf/dma-buf-mapping.c).
 *
 * Included at the end of the generated translation unit, after the kernel's
 * own text, so struct dma_buf_dma and the static helpers are in scope. The
 * build names the two entry points KC_MAP and KC_UNMAP.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "sgt_reply.h"

#ifndef KC_MAP
#error "KC_MAP and KC_UNMAP name the unit's map and unmap functions"
#endif

static struct dma_resv kc_resv = { 1 };
static struct dma_buf kc_dmabuf = { .resv = &kc_resv };
static struct device kc_client = { "client" };
static struct device kc_exporter = { "exporter" };
static struct dma_buf_attachment kc_attach = { .dmabuf = &kc_dmabuf, .dev = &kc_client, .peer2peer = true };
static struct p2pdma_provider kc_provider = { .owner = &kc_exporter };

/* args: page size, dir, size, bus offset, nr, then (paddr, len) per range. */
static void kc_map(const u64 *args, u64 nargs)
{
	u64 nr = args[4], i;
	struct phys_vec *vec;
	struct sg_table *sgt;

	if (nargs != 5 + 2 * nr)
		abort();
	kshim_page_size = args[0];
	kc_dmabuf.size = args[2];
	kc_provider.bus_offset = args[3];
	vec = calloc(nr ? nr : 1, sizeof(*vec));
	for (i = 0; i < nr; i++) {
		vec[i].paddr = args[5 + 2 * i];
		vec[i].len = args[6 + 2 * i];
	}
	sgt = KC_MAP(&kc_attach, &kc_provider, (void *)vec, nr, args[2], (enum dma_data_direction)args[1]);
	free(vec);
	kc_reply_sgt(sgt);
}

/* args: the table KC_MAP returned, dir. */
static void kc_unmap(const u64 *args, u64 nargs)
{
	if (nargs != 2)
		abort();
	KC_UNMAP(&kc_attach, (struct sg_table *)(uintptr_t)args[0], (enum dma_data_direction)args[1]);
	kshim_reply(KSHIM_OP_DONE, NULL, 0);
}

void kshim_unit_request(u64 op, const u64 *args, u64 nargs)
{
	switch (op) {
	case KSHIM_REQ_CONV_MAP:
		kc_map(args, nargs);
		break;
	case KSHIM_REQ_CONV_UNMAP:
		kc_unmap(args, nargs);
		break;
	default:
		abort();
	}
}
