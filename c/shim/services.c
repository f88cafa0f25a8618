// SPDX-License-Identifier: MIT
/*
 * services.c - the kernel services of kshim.h, each forwarded to the
 * simulated kernel of the runner with the C site of the call.
 *
 * Memory the C reads and writes is real (calloc, under AddressSanitizer), and
 * every allocation is also an object of the simulated heap, so KASAN-style
 * UAF-OBJ, DMA-UNWIND and leak checks see it. A free the simulated heap calls
 * a double or invalid free is reported there and not passed to free(), so the
 * report names the kernel's sites rather than ending the unit.
 */
#include <stdlib.h>
#include <string.h>

#include <kshim.h>
#include "bridge.h"

/* ---- the live set of C allocations (open addressing, pointer keys) ------ */
#define LIVE_SLOTS (1u << 16)
#define TOMB ((const void *)1)
static const void *live[LIVE_SLOTS];

static u32 slot_of(const void *p)
{
	u64 h = (u64)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;

	return (u32)(h >> 48) & (LIVE_SLOTS - 1);
}

static void live_add(const void *p)
{
	u32 i = slot_of(p);

	while (live[i] && live[i] != TOMB)
		i = (i + 1) & (LIVE_SLOTS - 1);
	live[i] = p;
}

static bool live_del(const void *p)
{
	u32 i = slot_of(p);

	while (live[i]) {
		if (live[i] == p) {
			live[i] = TOMB;
			return true;
		}
		i = (i + 1) & (LIVE_SLOTS - 1);
	}
	return false;
}

static u64 P(const void *p)
{
	return (u64)(uintptr_t)p;
}

/* ---- slab ---------------------------------------------------------------- */
void *kshim_kzalloc(size_t size, const char *what, struct kshim_site at)
{
	void *p = calloc(1, size ? size : 1);
	u64 args[3];

	if (!p)
		return NULL;
	args[0] = P(p);
	args[1] = size;
	args[2] = kshim_str(what);
	if (!kshim_call1(KSHIM_OP_ALLOC, at, args, 3)) {
		free(p);
		return NULL;
	}
	live_add(p);
	return p;
}

void kshim_kfree(const void *ptr, struct kshim_site at)
{
	u64 arg = P(ptr);

	if (!ptr)
		return;
	kshim_send(KSHIM_OP_FREE, at, &arg, 1);
	if (live_del(ptr))
		free((void *)ptr);
}

void kshim_warn(struct kshim_site at, const char *cond)
{
	u64 arg = kshim_str(cond);

	kshim_send(KSHIM_OP_WARN, at, &arg, 1);
}

void kshim_dma_resv_assert_held(struct dma_resv *resv, struct kshim_site at)
{
	u64 arg = (u64)resv->kshim_id;

	kshim_send(KSHIM_OP_RESV_ASSERT, at, &arg, 1);
}

/* ---- p2pdma ---------------------------------------------------------------- */
enum pci_p2pdma_map_type kshim_p2pdma_map_type(struct p2pdma_provider *provider, struct device *dev,
					       struct kshim_site at)
{
	u64 args[2] = { P(provider), P(dev) };

	return (enum pci_p2pdma_map_type)kshim_call1(KSHIM_OP_MAP_TYPE, at, args, 2);
}

dma_addr_t kshim_p2pdma_bus_addr_map(struct p2pdma_provider *provider, phys_addr_t paddr, struct kshim_site at)
{
	u64 args[3] = { P(provider), paddr, provider->bus_offset };

	return kshim_call1(KSHIM_OP_BUS_ADDR_MAP, at, args, 3);
}

/* ---- scatterlist ------------------------------------------------------------ */
void kshim_null_sg(struct kshim_site at)
{
	kshim_send(KSHIM_OP_NULL_SG, at, NULL, 0);
	kshim_flush();
	abort();
}

int kshim_sg_alloc_table(struct sg_table *table, unsigned int nents, struct kshim_site at)
{
	u64 args[2] = { P(table), nents };
	int ret = (int)(s64)kshim_call1(KSHIM_OP_SG_ALLOC, at, args, 2);

	memset(table, 0, sizeof(*table));
	if (ret)
		return ret;
	table->sgl = calloc(nents, sizeof(struct scatterlist));
	if (!table->sgl)
		abort();
	table->sgl[nents - 1].page_link |= SG_END;
	table->nents = nents;
	table->orig_nents = nents;
	return 0;
}

/* lib/scatterlist.c frees chunks for orig_nents entries and always clears
 * sgl: with orig_nents == 0 the memory stays allocated (the simulated heap
 * keeps its chunks live and reports the leak). */
void kshim_sg_free_table(struct sg_table *table, struct kshim_site at)
{
	u64 args[3] = { P(table), table->nents, table->orig_nents };

	kshim_send(KSHIM_OP_SG_FREE, at, args, 3);
	if (!table->sgl)
		return;
	if (table->orig_nents)
		free(table->sgl);
	table->sgl = NULL;
}

/* ---- DMA API ------------------------------------------------------------------- */
bool kshim_dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state, phys_addr_t phys, size_t size,
			      struct kshim_site at)
{
	u64 args[4] = { P(dev), P(state), phys, size };
	u64 r[2];

	kshim_call(KSHIM_OP_IOVA_TRY_ALLOC, at, args, 4, r);
	state->addr = r[0];
	state->__size = r[1];
	return r[1] != 0;
}

int kshim_dma_iova_link(struct device *dev, struct dma_iova_state *state, phys_addr_t phys, size_t offset,
			size_t size, enum dma_data_direction dir, unsigned long attrs, struct kshim_site at)
{
	u64 args[6] = { P(state), phys, offset, size, (u64)dir, attrs };

	(void)dev;
	return (int)(s64)kshim_call1(KSHIM_OP_IOVA_LINK, at, args, 6);
}

int kshim_dma_iova_sync(struct device *dev, struct dma_iova_state *state, size_t offset, size_t size,
			struct kshim_site at)
{
	u64 args[3] = { P(state), offset, size };

	(void)dev;
	return (int)(s64)kshim_call1(KSHIM_OP_IOVA_SYNC, at, args, 3);
}

void kshim_dma_iova_destroy(struct device *dev, struct dma_iova_state *state, size_t mapped_len,
			    enum dma_data_direction dir, unsigned long attrs, struct kshim_site at)
{
	u64 args[4] = { P(state), mapped_len, (u64)dir, attrs };

	(void)dev;
	kshim_send(KSHIM_OP_IOVA_DESTROY, at, args, 4);
}

void kshim_dma_iova_free(struct device *dev, struct dma_iova_state *state, struct kshim_site at)
{
	u64 arg = P(state);

	(void)dev;
	kshim_send(KSHIM_OP_IOVA_FREE, at, &arg, 1);
}

dma_addr_t kshim_dma_map_phys(struct device *dev, phys_addr_t phys, size_t size, enum dma_data_direction dir,
			      unsigned long attrs, struct kshim_site at)
{
	u64 args[4] = { phys, size, (u64)dir, attrs };

	(void)dev;
	return kshim_call1(KSHIM_OP_MAP_PHYS, at, args, 4);
}

int kshim_dma_mapping_error(struct device *dev, dma_addr_t addr, struct kshim_site at)
{
	u64 arg = addr;

	(void)dev;
	return (int)(s64)kshim_call1(KSHIM_OP_MAPPING_ERROR, at, &arg, 1);
}

void kshim_dma_unmap_phys(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			  unsigned long attrs, struct kshim_site at)
{
	u64 args[4] = { addr, size, (u64)dir, attrs };

	(void)dev;
	kshim_send(KSHIM_OP_UNMAP_PHYS, at, args, 4);
}
