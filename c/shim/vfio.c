// SPDX-License-Identifier: MIT
/*
 * vfio.c - the services an exporter (drivers/vfio/pci/vfio_pci_dmabuf.c)
 * calls: rw-semaphores, reservation locks, files and references, dma-buf
 * export and move_notify, the VFIO registration, user copies. Each lock,
 * file and registration is an object of the simulated kernel (named by
 * id); every call waits for the runner, which may await a lock (the worker
 * thread sleeps meanwhile) or run nested C requests (a release, an unmap).
 * Memory the C reads (struct dma_buf, struct file, the user's request) is
 * real memory under AddressSanitizer.
 */
#include <stdlib.h>
#include <string.h>

#include <kshim.h>
#include "bridge.h"

const void *kshim_user_end;

static u64 P(const void *p)
{
	return (u64)(uintptr_t)p;
}

void kshim_down_write(struct rw_semaphore *sem, struct kshim_site at)
{
	u64 arg = sem->kshim_id;

	kshim_call1(KSHIM_OP_DOWN_WRITE, at, &arg, 1);
}

void kshim_up_write(struct rw_semaphore *sem, struct kshim_site at)
{
	u64 arg = sem->kshim_id;

	kshim_call1(KSHIM_OP_UP_WRITE, at, &arg, 1);
}

void kshim_lockdep_assert_held_write(struct rw_semaphore *sem, struct kshim_site at)
{
	u64 arg = sem->kshim_id;

	kshim_call1(KSHIM_OP_ASSERT_WRITE, at, &arg, 1);
}

/* A change of a list its guard protects (kshim.h list.h): the guard held for write, as lockdep asserts it. */
void kshim_list_guarded(struct rw_semaphore *guard, struct kshim_site at)
{
	kshim_lockdep_assert_held_write(guard, at);
}

int kshim_dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx, struct kshim_site at)
{
	u64 arg = (u64)obj->kshim_id;

	(void)ctx;
	return (int)(s64)kshim_call1(KSHIM_OP_RESV_LOCK, at, &arg, 1);
}

void kshim_dma_resv_unlock(struct dma_resv *obj, struct kshim_site at)
{
	u64 arg = (u64)obj->kshim_id;

	kshim_call1(KSHIM_OP_RESV_UNLOCK, at, &arg, 1);
}

struct file *kshim_get_file_active(struct file **f, struct kshim_site at)
{
	struct file *file = *f;
	u64 arg = file->kshim_id;

	return kshim_call1(KSHIM_OP_GET_FILE_ACTIVE, at, &arg, 1) ? file : NULL;
}

void kshim_fput(struct file *file, struct kshim_site at)
{
	u64 arg = file->kshim_id;

	kshim_call1(KSHIM_OP_FPUT, at, &arg, 1);
}

/* dma_buf_export(): the core's struct dma_buf and struct file are memory of
 * the unit (freed when the simulated kernel's release has run); the dma-buf,
 * its file and reservation lock are the simulated kernel's, named by id. */
struct dma_buf *kshim_dma_buf_export(const struct dma_buf_export_info *info, struct kshim_site at)
{
	struct dma_buf *dmabuf = calloc(1, sizeof(*dmabuf));
	struct file *file = calloc(1, sizeof(*file));
	u64 args[5], id;

	if (!dmabuf || !file)
		abort();
	dmabuf->size = info->size;
	dmabuf->ops = info->ops;
	dmabuf->priv = info->priv;
	dmabuf->file = file;
	dmabuf->resv = info->resv ? info->resv : &dmabuf->kshim_resv;
	args[0] = P(dmabuf);
	args[1] = info->size;
	args[2] = P(info->priv);
	args[3] = P(info->ops);
	args[4] = (u64)info->flags;
	id = kshim_call1(KSHIM_OP_EXPORT, at, args, 5);
	if (!id) {
		free(file);
		free(dmabuf);
		return ERR_PTR(-ENOMEM);
	}
	file->kshim_id = id;
	dmabuf->kshim_resv.kshim_id = (int)id;
	return dmabuf;
}

int kshim_dma_buf_fd(struct dma_buf *dmabuf, int flags, struct kshim_site at)
{
	u64 args[2] = { dmabuf->file->kshim_id, (u64)flags };

	return (int)(s64)kshim_call1(KSHIM_OP_DMA_BUF_FD, at, args, 2);
}

/* dma_buf_put(): fput() of the dma-buf's file, behind the core's WARN_ON. */
void kshim_dma_buf_put(struct dma_buf *dmabuf, struct kshim_site at)
{
	if (WARN_ON(!dmabuf || !dmabuf->file))
		return;
	kshim_fput(dmabuf->file, at);
}

void kshim_dma_buf_move_notify(struct dma_buf *dmabuf, struct kshim_site at)
{
	u64 arg = dmabuf->file->kshim_id;

	kshim_call1(KSHIM_OP_MOVE_NOTIFY, at, &arg, 1);
}

bool kshim_vfio_device_try_get_registration(struct vfio_device *device, struct kshim_site at)
{
	u64 arg = device->kshim_id;

	return kshim_call1(KSHIM_OP_REG_TRYGET, at, &arg, 1) != 0;
}

void kshim_vfio_device_put_registration(struct vfio_device *device, struct kshim_site at)
{
	u64 arg = device->kshim_id;

	kshim_call1(KSHIM_OP_REG_PUT, at, &arg, 1);
}

bool kshim_vfio_pci_memory_enabled(struct vfio_pci_core_device *vdev, struct kshim_site at)
{
	u64 arg = vdev->vdev.kshim_id;

	return kshim_call1(KSHIM_OP_MEM_ENABLED, at, &arg, 1) != 0;
}

/* pcim_p2pdma_provider(): the provider pcim_p2pdma_init() made at probe for a
 * MEM BAR (devres: freed at unbind), NULL for any other BAR. */
struct p2pdma_provider *kshim_pcim_p2pdma_provider(struct pci_dev *pdev, int bar, struct kshim_site at)
{
	(void)at;
	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return NULL;
	return pdev->kshim_provider[bar];
}

unsigned long kshim_copy_from_user(void *to, const void __user *from, unsigned long n)
{
	if ((const char *)from + n > (const char *)kshim_user_end)
		return n;
	memcpy(to, from, n);
	return 0;
}

void *kshim_memdup_array_user(const void __user *src, size_t n, size_t size, struct kshim_site at)
{
	size_t bytes;
	void *p;

	if (__builtin_mul_overflow(n, size, &bytes))
		return ERR_PTR(-EOVERFLOW);
	if ((const char *)src + bytes > (const char *)kshim_user_end || (const char *)src + bytes < (const char *)src)
		return ERR_PTR(-EFAULT);
	p = kshim_kzalloc(bytes, "dma_ranges", at);
	if (!p)
		return ERR_PTR(-ENOMEM);
	memcpy(p, src, bytes);
	return p;
}
