/* SPDX-License-Identifier: MIT */
/*
 * kshim.h - a userspace stand-in for the kernel headers that the dma-buf,
 * p2pdma and vfio units include. Written for dmabuf-conform; no kernel text.
 *
 * Types, constants and the small inline helpers have the kernel's widths and
 * semantics (unsigned int scatterlist lengths, size_t sizes, u64 DMA
 * addresses), because the findings live in those widths. Every kernel
 * *service* (allocation, the DMA API, scatterlist tables, reservation
 * assertions, the p2pdma provider) is a call into the simulated kernel of the
 * runner (src/kernel/), made through bridge.c with the C file:line of the
 * call, so the runner's checkers judge the C as they judge a TypeScript port.
 */
#ifndef KSHIM_H
#define KSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- types (include/linux/types.h) ------------------------------------ */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 dma_addr_t;
typedef u64 phys_addr_t;
typedef unsigned int gfp_t;
typedef long ssize_t;

#define GFP_KERNEL 0x1u
#define __GFP_ZERO 0x100u

#define UINT_MAX (~0U)
#define ULONG_MAX (~0UL)
#define U32_MAX ((u32)~0U)
#define U64_MAX ((u64)~0ULL)

/* PAGE_SIZE is the page size of the case under test (4 KiB or 64 KiB). */
extern unsigned long kshim_page_size;
#define PAGE_SIZE (kshim_page_size)

/* ---- compiler and math helpers (linux/compiler.h, math.h, align.h) ------ */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define __always_inline inline __attribute__((always_inline))
#define __maybe_unused __attribute__((unused))
#define __must_check __attribute__((warn_unused_result))
#define fallthrough __attribute__((fallthrough))

#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define __KSHIM_ALIGN_MASK(x, mask) (((x) + (mask)) & ~(mask))
#define __KSHIM_ALIGN(x, a) __KSHIM_ALIGN_MASK(x, (__typeof__(x))(a) - 1)
#define ALIGN(x, a) __KSHIM_ALIGN((x), (a))
#define ALIGN_DOWN(x, a) __KSHIM_ALIGN((x) - ((a) - 1), (a))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define PAGE_ALIGNED(addr) IS_ALIGNED((unsigned long)(addr), PAGE_SIZE)

#define min(a, b) ({ __auto_type __ka = (a); __auto_type __kb = (b); __ka < __kb ? __ka : __kb; })
#define max(a, b) ({ __auto_type __ka = (a); __auto_type __kb = (b); __ka > __kb ? __ka : __kb; })
#define min_t(t, a, b) ({ t __ka = (a); t __kb = (b); __ka < __kb ? __ka : __kb; })
#define max_t(t, a, b) ({ t __ka = (a); t __kb = (b); __ka > __kb ? __ka : __kb; })

#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define check_mul_overflow(a, b, d) __builtin_mul_overflow(a, b, d)

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errno and ERR_PTR (linux/err.h) ----------------------------------- */
#define EIO 5
#define ENOMEM 12
#define EFAULT 14
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define EOVERFLOW 75
#define EOPNOTSUPP 95
#define MAX_ERRNO 4095

static inline void *ERR_PTR(long error) { return (void *)error; }
static inline long PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool IS_ERR(const void *ptr) { return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO; }
static inline bool IS_ERR_OR_NULL(const void *ptr) { return !ptr || IS_ERR(ptr); }

/* ---- the bridge: every service call carries its C site ----------------- */
struct kshim_site {
	const char *file;
	const char *func;
	unsigned int line;
};
#define KSHIM_SITE ((struct kshim_site){ __FILE__, __func__, __LINE__ })

/* WARN_ON(): the simulated kernel decides which rule a warning breaks. */
void kshim_warn(struct kshim_site at, const char *cond);
#define WARN_ON(cond) ({ int __kw = !!(cond); if (unlikely(__kw)) kshim_warn(KSHIM_SITE, #cond); unlikely(__kw); })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN_ONCE(cond, ...) WARN_ON(cond)

/* ---- slab (linux/slab.h): the simulated heap decides and records ------- */
void *kshim_kzalloc(size_t size, const char *what, struct kshim_site at);
void kshim_kfree(const void *ptr, struct kshim_site at);
#define kzalloc(size, gfp) kshim_kzalloc((size), #size, KSHIM_SITE)
#define kmalloc(size, gfp) kshim_kzalloc((size), #size, KSHIM_SITE)
#define kzalloc_obj(obj) kshim_kzalloc(sizeof(obj), #obj, KSHIM_SITE)
#define kcalloc(n, size, gfp) kshim_kcalloc((n), (size), #size, KSHIM_SITE)
#define kmalloc_array(n, size, gfp) kshim_kcalloc((n), (size), #size, KSHIM_SITE)
#define kfree(ptr) kshim_kfree((ptr), KSHIM_SITE)
static inline void *kshim_kcalloc(size_t n, size_t size, const char *what, struct kshim_site at)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return kshim_kzalloc(bytes, what, at);
}

/* ---- devices, dma-buf core objects (only the fields the units touch) --- */
struct device {
	const char *init_name;
	/* The route unit (kshim_pci.h): the parent device, and whether this is a pci_dev's. */
	struct device *parent;
	bool kshim_is_pci;
};

struct dma_resv {
	int kshim_id;
};

struct dma_buf_ops;
struct file;
struct dma_buf {
	size_t size;
	const struct dma_buf_ops *ops;
	struct dma_resv *resv;
	void *priv;
	/* The exporter unit's dma-bufs (kshim_dma_buf_export): the file and
	 * the reservation object the simulated kernel made for it. */
	struct file *file;
	struct dma_resv kshim_resv;
};

struct dma_buf_attachment {
	struct dma_buf *dmabuf;
	struct device *dev;
	bool peer2peer;
	void *priv;
};

void kshim_dma_resv_assert_held(struct dma_resv *resv, struct kshim_site at);
#define dma_resv_assert_held(obj) kshim_dma_resv_assert_held((obj), KSHIM_SITE)

/* ---- struct phys_vec (v8: struct dma_buf_phys_vec) ---------------------- */
struct phys_vec {
	phys_addr_t paddr;
	size_t len;
};
struct dma_buf_phys_vec {
	phys_addr_t paddr;
	size_t len;
};

/* ---- p2pdma (linux/pci-p2pdma.h) ---------------------------------------- */
struct p2pdma_provider {
	struct device *owner;
	u64 bus_offset;
};

enum pci_p2pdma_map_type {
	PCI_P2PDMA_MAP_UNKNOWN = 0,
	PCI_P2PDMA_MAP_NOT_SUPPORTED,
	PCI_P2PDMA_MAP_BUS_ADDR,
	PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
};

enum pci_p2pdma_map_type kshim_p2pdma_map_type(struct p2pdma_provider *provider, struct device *dev,
					       struct kshim_site at);
dma_addr_t kshim_p2pdma_bus_addr_map(struct p2pdma_provider *provider, phys_addr_t paddr, struct kshim_site at);
#ifndef KSHIM_PCI_CORE /* the route unit compiles drivers/pci/p2pdma.c's own pci_p2pdma_map_type() */
#define pci_p2pdma_map_type(provider, dev) kshim_p2pdma_map_type((provider), (dev), KSHIM_SITE)
#endif
#define pci_p2pdma_bus_addr_map(provider, paddr) kshim_p2pdma_bus_addr_map((provider), (paddr), KSHIM_SITE)

/* ---- scatterlist (linux/scatterlist.h), flat tables ---------------------- */
#define SG_CHAIN 0x01UL
#define SG_END 0x02UL
#define SG_PAGE_LINK_MASK (SG_CHAIN | SG_END)

struct page;
struct scatterlist {
	unsigned long page_link;
	unsigned int offset;
	unsigned int length;
	dma_addr_t dma_address;
	unsigned int dma_length;
	unsigned int dma_flags;
};

struct sg_table {
	struct scatterlist *sgl;
	unsigned int nents;
	unsigned int orig_nents;
};

#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg) ((sg)->dma_length)
#define sg_is_last(sg) ((sg)->page_link & SG_END)

/* A write through the NULL that sg_next() returns past the table end oopses
 * the kernel; the shim names the site first, then crashes the unit. */
void kshim_null_sg(struct kshim_site at) __attribute__((noreturn));

static inline struct scatterlist *sg_next(struct scatterlist *sg)
{
	if (sg_is_last(sg))
		return NULL;
	return sg + 1;
}

#define sg_set_page(sg, page, len, offset) kshim_sg_set_page((sg), (page), (len), (offset), KSHIM_SITE)
static inline void kshim_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
				     unsigned int offset, struct kshim_site at)
{
	if (!sg)
		kshim_null_sg(at);
	sg->page_link = (sg->page_link & SG_PAGE_LINK_MASK) | (unsigned long)page;
	sg->offset = offset;
	sg->length = len;
}

#define for_each_sg(sglist, sg, nr, __i) for (__i = 0, sg = (sglist); __i < (nr); __i++, sg = sg_next(sg))
#define for_each_sgtable_dma_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->nents, i)
#define for_each_sgtable_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->orig_nents, i)

int kshim_sg_alloc_table(struct sg_table *table, unsigned int nents, struct kshim_site at);
void kshim_sg_free_table(struct sg_table *table, struct kshim_site at);
#define sg_alloc_table(table, nents, gfp) kshim_sg_alloc_table((table), (nents), KSHIM_SITE)
#define sg_free_table(table) kshim_sg_free_table((table), KSHIM_SITE)

/* ---- the DMA API (linux/dma-mapping.h), IOVA calls included -------------- */
enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

#define DMA_ATTR_MMIO (1UL << 10)
#define DMA_MAPPING_ERROR (~(dma_addr_t)0)

struct dma_iova_state {
	dma_addr_t addr;
	u64 __size;
};

static inline bool dma_use_iova(struct dma_iova_state *state)
{
	return state->__size != 0;
}

bool kshim_dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state, phys_addr_t phys, size_t size,
			      struct kshim_site at);
int kshim_dma_iova_link(struct device *dev, struct dma_iova_state *state, phys_addr_t phys, size_t offset,
			size_t size, enum dma_data_direction dir, unsigned long attrs, struct kshim_site at);
int kshim_dma_iova_sync(struct device *dev, struct dma_iova_state *state, size_t offset, size_t size,
			struct kshim_site at);
void kshim_dma_iova_destroy(struct device *dev, struct dma_iova_state *state, size_t mapped_len,
			    enum dma_data_direction dir, unsigned long attrs, struct kshim_site at);
void kshim_dma_iova_free(struct device *dev, struct dma_iova_state *state, struct kshim_site at);
dma_addr_t kshim_dma_map_phys(struct device *dev, phys_addr_t phys, size_t size, enum dma_data_direction dir,
			      unsigned long attrs, struct kshim_site at);
int kshim_dma_mapping_error(struct device *dev, dma_addr_t addr, struct kshim_site at);
void kshim_dma_unmap_phys(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			  unsigned long attrs, struct kshim_site at);

#define dma_iova_try_alloc(dev, state, phys, size) kshim_dma_iova_try_alloc((dev), (state), (phys), (size), KSHIM_SITE)
#define dma_iova_link(dev, state, phys, offset, size, dir, attrs) \
	kshim_dma_iova_link((dev), (state), (phys), (offset), (size), (dir), (attrs), KSHIM_SITE)
#define dma_iova_sync(dev, state, offset, size) kshim_dma_iova_sync((dev), (state), (offset), (size), KSHIM_SITE)
#define dma_iova_destroy(dev, state, mapped_len, dir, attrs) \
	kshim_dma_iova_destroy((dev), (state), (mapped_len), (dir), (attrs), KSHIM_SITE)
#define dma_iova_free(dev, state) kshim_dma_iova_free((dev), (state), KSHIM_SITE)
#define dma_map_phys(dev, phys, size, dir, attrs) kshim_dma_map_phys((dev), (phys), (size), (dir), (attrs), KSHIM_SITE)
#define dma_mapping_error(dev, addr) kshim_dma_mapping_error((dev), (addr), KSHIM_SITE)
#define dma_unmap_phys(dev, addr, size, dir, attrs) \
	kshim_dma_unmap_phys((dev), (addr), (size), (dir), (attrs), KSHIM_SITE)

/* ---- the exporter unit: what drivers/vfio/pci/vfio_pci_dmabuf.c includes --
 * (linux/dma-buf.h, dma-resv.h, list.h, rwsem.h, fs.h, uaccess.h,
 * pci-p2pdma.h, vfio.h and vfio_pci_core.h), written for dmabuf-conform.
 * Objects of the simulated kernel (locks, files, registrations, dma-bufs)
 * carry its id; every service goes to the runner with its C site. */
#define __user
#define __counted_by(m)
#define KBUILD_MODNAME "kshim"
#define THIS_MODULE NULL
#define MODULE_IMPORT_NS(ns) struct kshim_module_import_ns
#define EXPORT_SYMBOL_GPL(sym) extern __typeof__(sym) sym
#define EXPORT_SYMBOL_FOR_MODULES(sym, mods) extern __typeof__(sym) sym
typedef u32 __u32;
typedef u64 __u64;
#define EBADF 9
#define DMA_IOVA_USE_SWIOTLB (1ULL << 63)
#define ENOTTY 25

/* list.h: a circular doubly linked list with a head node. kshim_guard: the
 * rw_semaphore whose write side every change of the list needs (the shim sets
 * it on vdev->dmabufs: memory_lock, held for write at each list_add_tail() and
 * list_del_init() of 002 v8 10/11, while vfio_pci_dma_buf_move() walks it); an
 * entry carries its list's guard while on it, and a change of a guarded list
 * without the lock is reported as lockdep_assert_held_write() reports it (a
 * change racing a walk, what KCSAN would see). */
struct rw_semaphore;
struct list_head {
	struct list_head *next, *prev;
	struct rw_semaphore *kshim_guard;
};
void kshim_list_guarded(struct rw_semaphore *guard, struct kshim_site at);
static inline void INIT_LIST_HEAD(struct list_head *l)
{
	l->next = l;
	l->prev = l;
	l->kshim_guard = NULL;
}
static inline void kshim_list_add_tail(struct list_head *n, struct list_head *head, struct kshim_site at)
{
	if (head->kshim_guard)
		kshim_list_guarded(head->kshim_guard, at);
	n->prev = head->prev;
	n->next = head;
	n->kshim_guard = head->kshim_guard;
	head->prev->next = n;
	head->prev = n;
}
static inline void kshim_list_del_init(struct list_head *e, struct kshim_site at)
{
	if (e->kshim_guard)
		kshim_list_guarded(e->kshim_guard, at);
	e->prev->next = e->next;
	e->next->prev = e->prev;
	INIT_LIST_HEAD(e);
}
#define list_add_tail(n, head) kshim_list_add_tail((n), (head), KSHIM_SITE)
#define list_del_init(e) kshim_list_del_init((e), KSHIM_SITE)
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_for_each_entry_safe(pos, n, head, member)                                   \
	for (pos = list_entry((head)->next, __typeof__(*pos), member),                      \
	    n = list_entry(pos->member.next, __typeof__(*pos), member);                     \
	     &pos->member != (head); pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

/* rwsem.h, lockdep.h: memory_lock is the simulated kernel's rw_semaphore */
struct rw_semaphore {
	u64 kshim_id;
};
void kshim_down_write(struct rw_semaphore *sem, struct kshim_site at);
void kshim_up_write(struct rw_semaphore *sem, struct kshim_site at);
void kshim_lockdep_assert_held_write(struct rw_semaphore *sem, struct kshim_site at);
#define down_write(sem) kshim_down_write((sem), KSHIM_SITE)
#define up_write(sem) kshim_up_write((sem), KSHIM_SITE)
#define lockdep_assert_held_write(sem) kshim_lockdep_assert_held_write((sem), KSHIM_SITE)

/* dma-resv.h: the dma-buf's reservation lock */
struct ww_acquire_ctx;
int kshim_dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx, struct kshim_site at);
void kshim_dma_resv_unlock(struct dma_resv *obj, struct kshim_site at);
#define dma_resv_lock(obj, ctx) kshim_dma_resv_lock((obj), (ctx), KSHIM_SITE)
#define dma_resv_unlock(obj) kshim_dma_resv_unlock((obj), KSHIM_SITE)

/* fs.h: a dma-buf's file */
struct file {
	u64 kshim_id;
};
struct file *kshim_get_file_active(struct file **f, struct kshim_site at);
void kshim_fput(struct file *file, struct kshim_site at);
#define get_file_active(f) kshim_get_file_active((f), KSHIM_SITE)
#define fput(file) kshim_fput((file), KSHIM_SITE)

/* dma-buf.h: the core's side of an exporter */
struct dma_buf_ops {
	int (*attach)(struct dma_buf *dmabuf, struct dma_buf_attachment *attach);
	void (*detach)(struct dma_buf *dmabuf, struct dma_buf_attachment *attach);
	struct sg_table *(*map_dma_buf)(struct dma_buf_attachment *attach, enum dma_data_direction dir);
	void (*unmap_dma_buf)(struct dma_buf_attachment *attach, struct sg_table *sgt, enum dma_data_direction dir);
	void (*release)(struct dma_buf *dmabuf);
};
struct dma_buf_export_info {
	const char *exp_name;
	void *owner;
	const struct dma_buf_ops *ops;
	size_t size;
	int flags;
	struct dma_resv *resv;
	void *priv;
};
/* An export info named by the module that exports (the shim has one module, no owner). */
#define DEFINE_DMA_BUF_EXPORT_INFO(name) struct dma_buf_export_info name = { .owner = THIS_MODULE, .exp_name = KBUILD_MODNAME }
struct dma_buf *kshim_dma_buf_export(const struct dma_buf_export_info *info, struct kshim_site at);
int kshim_dma_buf_fd(struct dma_buf *dmabuf, int flags, struct kshim_site at);
void kshim_dma_buf_put(struct dma_buf *dmabuf, struct kshim_site at);
void kshim_dma_buf_move_notify(struct dma_buf *dmabuf, struct kshim_site at);
#define dma_buf_export(info) kshim_dma_buf_export((info), KSHIM_SITE)
#define dma_buf_fd(dmabuf, flags) kshim_dma_buf_fd((dmabuf), (flags), KSHIM_SITE)
#define dma_buf_put(dmabuf) kshim_dma_buf_put((dmabuf), KSHIM_SITE)
#define dma_buf_move_notify(dmabuf) kshim_dma_buf_move_notify((dmabuf), KSHIM_SITE)

/* uaccess.h, string.h: the user's request is memory of the unit driver; a
 * copy past its end is -EFAULT (kshim_user_end marks it). */
extern const void *kshim_user_end;
unsigned long kshim_copy_from_user(void *to, const void __user *from, unsigned long n);
void *kshim_memdup_array_user(const void __user *src, size_t n, size_t size, struct kshim_site at);
#define copy_from_user(to, from, n) kshim_copy_from_user((to), (from), (n))
#define memdup_array_user(src, n, size) kshim_memdup_array_user((src), (n), (size), KSHIM_SITE)

/* pci.h, pci-p2pdma.h: the device's BARs and providers are set at probe */
#define PCI_STD_NUM_BARS 6
#ifndef KSHIM_PCI_CORE /* the route unit's struct pci_dev is kshim_pci.h's */
struct pci_dev {
	u64 kshim_id;
	phys_addr_t kshim_start[PCI_STD_NUM_BARS];
	u64 kshim_len[PCI_STD_NUM_BARS];
	struct p2pdma_provider *kshim_provider[PCI_STD_NUM_BARS];
};
#define pci_resource_start(pdev, bar) ((pdev)->kshim_start[(bar)])
#define pci_resource_len(pdev, bar) ((pdev)->kshim_len[(bar)])
struct p2pdma_provider *kshim_pcim_p2pdma_provider(struct pci_dev *pdev, int bar, struct kshim_site at);
#define pcim_p2pdma_provider(pdev, bar) kshim_pcim_p2pdma_provider((pdev), (bar), KSHIM_SITE)
#endif /* KSHIM_PCI_CORE */

/* uapi/linux/vfio.h */
#define VFIO_DEVICE_FEATURE_MASK 0xffffu
#define VFIO_DEVICE_FEATURE_GET (1u << 16)
#define VFIO_DEVICE_FEATURE_SET (1u << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1u << 18)
#define VFIO_DEVICE_FEATURE_DMA_BUF 11
#define VFIO_PCI_ROM_REGION_INDEX 6
struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};
struct vfio_device_feature_dma_buf {
	__u32 region_index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};

/* linux/vfio.h, vfio_pci_core.h: the device the core owns */
struct vfio_device {
	u64 kshim_id;
};
struct vfio_pci_core_device;
struct vfio_pci_device_ops {
	int (*get_dmabuf_phys)(struct vfio_pci_core_device *vdev, struct p2pdma_provider **provider,
			       unsigned int region_index, struct dma_buf_phys_vec *phys_vec,
			       struct vfio_region_dma_range *dma_ranges, size_t nr_ranges);
};
struct vfio_pci_core_device {
	struct vfio_device vdev;
	struct pci_dev *pdev;
	const struct vfio_pci_device_ops *pci_ops;
	struct rw_semaphore memory_lock;
	struct list_head dmabufs;
};
bool kshim_vfio_device_try_get_registration(struct vfio_device *device, struct kshim_site at);
void kshim_vfio_device_put_registration(struct vfio_device *device, struct kshim_site at);
bool kshim_vfio_pci_memory_enabled(struct vfio_pci_core_device *vdev, struct kshim_site at);
#define vfio_device_try_get_registration(d) kshim_vfio_device_try_get_registration((d), KSHIM_SITE)
#define vfio_device_put_registration(d) kshim_vfio_device_put_registration((d), KSHIM_SITE)
#define __vfio_pci_memory_enabled(vdev) kshim_vfio_pci_memory_enabled((vdev), KSHIM_SITE)

/* vfio_check_feature() of drivers/vfio/vfio_main.c, by its documented contract
 * (include/linux/vfio.h): a GET or SET the feature does not support is -EINVAL;
 * a PROBE of a supported one is 0; otherwise one of GET and SET and at least
 * minsz bytes make 1 (do it), anything else -EINVAL. */
static inline int vfio_check_feature(u32 flags, size_t argsz, u32 supported_ops, size_t minsz)
{
	u32 asked = flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET);
	bool supported = (asked & ~supported_ops) == 0;

	if (supported && (flags & VFIO_DEVICE_FEATURE_PROBE))
		return 0;
	return supported && asked && argsz >= minsz ? 1 : -EINVAL;
}

/* ---- the unit's side of the bridge (c/units/*.c) ------------------------- */
/* Handle one request of the runner; args are the request's u64 words. */
void kshim_unit_request(u64 op, const u64 *args, u64 nargs);
/* Send the unit's reply to a request: op, then its words. */
void kshim_reply(u64 op, const u64 *words, u64 n);

#endif /* KSHIM_H */
