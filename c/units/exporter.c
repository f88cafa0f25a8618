// SPDX-License-Identifier: MIT
/*
 * exporter.c - drives the exporter unit: drivers/vfio/pci/vfio_pci_dmabuf.c
 * of the kernel under test (the whole file), with the dma_buf_map() /
 * dma_buf_unmap() it calls. Included at the end of the generated translation
 * unit, so struct vfio_pci_dma_buf and the file's static functions are in
 * scope. The runner's vfio_pci_core stand-in (src/kernel-c/exporter.ts) owns
 * the device, its events and memory_lock, as vfio_pci_core.c does; this
 * driver is what probe (vfio_pci.c: pci_ops with get_dmabuf_phys), the
 * feature ioctl, the core's calls of move/cleanup and the dma-buf core's
 * calls of the dma_buf_ops come in through. Every request runs on its own
 * worker channel (c/shim/bridge.c).
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "sgt_reply.h"

static const struct vfio_pci_device_ops kc_vfio_pci_ops = {
	.get_dmabuf_phys = vfio_pci_core_get_dmabuf_phys,
};

/* Importing devices: index 0 is iommufd's NULL device. */
#define KC_DEVS 16
static struct device kc_devs[KC_DEVS];

static void kc_done(const u64 *w, u64 n)
{
	kshim_reply(KSHIM_OP_DONE, w, n);
}

static void *kc_ptr(u64 w)
{
	return (void *)(uintptr_t)w;
}

/* args: device id, page size, then per BAR 0..5: type (0 absent, 1 mem, 2 io), start, len, bus offset. */
static void kc_probe(const u64 *a, u64 n)
{
	struct vfio_pci_core_device *vdev = calloc(1, sizeof(*vdev));
	struct pci_dev *pdev = calloc(1, sizeof(*pdev));
	u64 id = a[0], r;
	int bar;

	if (n != 2 + 4 * PCI_STD_NUM_BARS || !vdev || !pdev)
		abort();
	kshim_page_size = a[1];
	vdev->vdev.kshim_id = id;
	vdev->memory_lock.kshim_id = id;
	vdev->pdev = pdev;
	vdev->pci_ops = &kc_vfio_pci_ops;
	INIT_LIST_HEAD(&vdev->dmabufs);
	/* every change of vdev->dmabufs is made under memory_lock held for write (002 v8 10/11) */
	vdev->dmabufs.kshim_guard = &vdev->memory_lock;
	pdev->kshim_id = id;
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		const u64 *b = &a[2 + 4 * bar];

		if (!b[0])
			continue;
		pdev->kshim_start[bar] = b[1];
		pdev->kshim_len[bar] = b[2];
		if (b[0] != 1)
			continue;
		/* pcim_p2pdma_init(): one device-managed provider per MEM BAR */
		pdev->kshim_provider[bar] = kshim_kzalloc(sizeof(struct p2pdma_provider), "provider", KSHIM_SITE);
		if (!pdev->kshim_provider[bar])
			continue;
		pdev->kshim_provider[bar]->owner = &kc_devs[0];
		pdev->kshim_provider[bar]->bus_offset = b[3];
	}
	r = (u64)(uintptr_t)vdev;
	kc_done(&r, 1);
}

/* args: vdev, flags, argsz, user ranges given, region_index, open_flags, flags, nr_ranges, (offset, length)... */
static void kc_create(const u64 *a, u64 n)
{
	struct vfio_pci_core_device *vdev = kc_ptr(a[0]);
	u64 given = a[3], i, r;
	size_t bytes = sizeof(struct vfio_device_feature_dma_buf) + given * sizeof(struct vfio_region_dma_range);
	struct vfio_device_feature_dma_buf *arg;
	u32 flags = (u32)a[1];
	size_t argsz = a[2];

	if (n != 8 + 2 * given)
		abort();
	arg = malloc(bytes);
	arg->region_index = (u32)a[4];
	arg->open_flags = (u32)a[5];
	arg->flags = (u32)a[6];
	arg->nr_ranges = (u32)a[7];
	for (i = 0; i < given; i++) {
		arg->dma_ranges[i].offset = a[8 + 2 * i];
		arg->dma_ranges[i].length = a[9 + 2 * i];
	}
	kshim_user_end = (const char *)arg + bytes;
	r = (u64)(s64)vfio_pci_core_feature_dma_buf(vdev, flags, arg, argsz);
	free(arg);
	kc_done(&r, 1);
}

static void kc_attach(const u64 *a)
{
	struct dma_buf *dmabuf = kc_ptr(a[0]);
	struct dma_buf_attachment *att = calloc(1, sizeof(*att));
	u64 r[2];

	att->dmabuf = dmabuf;
	att->dev = a[1] ? &kc_devs[a[1] % KC_DEVS] : NULL;
	att->peer2peer = a[2] != 0;
	r[0] = (u64)(s64)(dmabuf->ops->attach ? dmabuf->ops->attach(dmabuf, att) : 0);
	if (r[0]) {
		free(att);
		att = NULL;
	}
	r[1] = (u64)(uintptr_t)att;
	kc_done(r, 2);
}

void kshim_unit_request(u64 op, const u64 *a, u64 n)
{
	u64 r[3] = { 0, 0, 0 };

	switch (op) {
	case KSHIM_REQ_EXP_PROBE:
		kc_probe(a, n);
		return;
	case KSHIM_REQ_EXP_CREATE:
		kc_create(a, n);
		return;
	case KSHIM_REQ_EXP_MOVE:
		vfio_pci_dma_buf_move(kc_ptr(a[0]), a[1] != 0);
		break;
	case KSHIM_REQ_EXP_CLEANUP:
		vfio_pci_dma_buf_cleanup(kc_ptr(a[0]));
		break;
	case KSHIM_REQ_EXP_ATTACH:
		kc_attach(a);
		return;
	case KSHIM_REQ_EXP_MAP: {
		struct dma_buf_attachment *att = kc_ptr(a[0]);

		kc_reply_sgt(att->dmabuf->ops->map_dma_buf(att, (enum dma_data_direction)a[1]));
		return;
	}
	case KSHIM_REQ_EXP_UNMAP: {
		struct dma_buf_attachment *att = kc_ptr(a[0]);

		att->dmabuf->ops->unmap_dma_buf(att, kc_ptr(a[1]), (enum dma_data_direction)a[2]);
		break;
	}
	case KSHIM_REQ_EXP_RELEASE: {
		struct dma_buf *dmabuf = kc_ptr(a[0]);

		dmabuf->ops->release(dmabuf);
		break;
	}
	case KSHIM_REQ_EXP_FREE_DMABUF: {
		/* dma_buf_release(): the core frees the dma-buf after the exporter's release */
		struct dma_buf *dmabuf = kc_ptr(a[0]);

		free(dmabuf->file);
		free(dmabuf);
		break;
	}
	case KSHIM_REQ_EXP_REVOKED: {
		struct dma_buf *dmabuf = kc_ptr(a[0]);

		r[0] = ((struct vfio_pci_dma_buf *)dmabuf->priv)->revoked;
		break;
	}
	case KSHIM_REQ_EXP_PHYS_VEC: {
		/* What the checks read of a created dma-buf: priv->nr_ranges, then each phys_vec entry. */
		struct vfio_pci_dma_buf *priv = ((struct dma_buf *)kc_ptr(a[0]))->priv;
		u64 *w = calloc(1 + 2 * (u64)priv->nr_ranges, sizeof(*w));
		u32 i;

		if (!w)
			abort();
		w[0] = priv->nr_ranges;
		for (i = 0; i < priv->nr_ranges; i++) {
			w[1 + 2 * i] = priv->phys_vec[i].paddr;
			w[2 + 2 * i] = priv->phys_vec[i].len;
		}
		kc_done(w, 1 + 2 * (u64)priv->nr_ranges);
		free(w);
		return;
	}
	case KSHIM_REQ_EXP_IOMMUFD_MAP: {
#ifdef KC_IOMMUFD_MAP
		struct dma_buf_phys_vec phys = { 0, 0 };

		r[0] = (u64)(s64)KC_IOMMUFD_MAP(kc_ptr(a[0]), &phys);
		r[1] = phys.paddr;
		r[2] = phys.len;
#else
		r[0] = (u64)(s64)-EOPNOTSUPP;
#endif
		kc_done(r, 3);
		return;
	}
	case KSHIM_REQ_EXP_UNBIND: {
		/* devres_release_all(): the providers pcim_p2pdma_init() made */
		struct vfio_pci_core_device *vdev = kc_ptr(a[0]);
		int bar;

		for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
			kfree(vdev->pdev->kshim_provider[bar]);
			vdev->pdev->kshim_provider[bar] = NULL;
		}
		break;
	}
	default:
		abort();
	}
	kc_done(r, 1);
}
