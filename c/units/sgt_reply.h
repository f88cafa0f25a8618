/* SPDX-License-Identifier: MIT */
/*
 * sgt_reply.h - the reply to a map request, shared by the conversion and
 * exporter drivers: an errno, or the table dma_buf_map() returned (its
 * struct dma_buf_dma, IOVA state, counts and every entry), which the runner
 * turns into the simulated kernel's sg_table (src/kernel-c/conversion.ts).
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static void kc_reply_sgt(struct sg_table *sgt)
{
	struct dma_buf_dma *dma;
	u64 head[10], *out, i;

	if (IS_ERR(sgt)) {
		head[0] = 0;
		head[1] = (u64)PTR_ERR(sgt);
		kshim_reply(KSHIM_OP_DONE, head, 2);
		return;
	}
	dma = container_of(sgt, struct dma_buf_dma, sgt);
	head[0] = 1;
	head[1] = (u64)(uintptr_t)sgt;
	head[2] = (u64)(uintptr_t)dma;
	head[3] = (u64)(uintptr_t)dma->state;
	head[4] = dma->size;
	head[5] = dma->state ? dma->state->addr : 0;
	head[6] = dma->state ? dma->state->__size : 0;
	head[7] = sgt->nents;
	head[8] = sgt->orig_nents;
	head[9] = sgt->sgl ? sgt->nents : 0;
	out = calloc(10 + 4 * head[9], sizeof(u64));
	memcpy(out, head, sizeof(head));
	for (i = 0; i < head[9]; i++) {
		struct scatterlist *sg = &sgt->sgl[i];

		out[10 + 4 * i] = sg->page_link & ~SG_PAGE_LINK_MASK;
		out[11 + 4 * i] = ((u64)sg->offset << 32) | sg->length;
		out[12 + 4 * i] = sg->dma_address;
		out[13 + 4 * i] = sg->dma_length;
	}
	kshim_reply(KSHIM_OP_DONE, out, 10 + 4 * head[9]);
	free(out);
}
