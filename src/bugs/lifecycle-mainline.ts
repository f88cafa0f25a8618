// Seeded bugs of the mainline revoke contract (profile mainline), each one
// change to the faithful mainline ports.
import type { DmaDir } from '../kernel/dma.ts';
import type { KObj } from '../kernel/objects.ts';
import type { DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { dma_buf_free_sgt, type DmaBufDma } from '../impl/dma-buf-mapping.ts';
import { IommufdAttachment, iommufdPlugin } from '../impl/iommufd.ts';
import { MAINLINE_PORT, MainlineDmabufOps } from '../impl/vfio/vfio_pci_dmabuf_mainline.ts';
import { vfioExporter } from '../harness/bundled.ts';

/** unmap_dma_buf frees the table but forgets the drain's kref_put: the next revoke waits for an unmap that already happened. */
class UnmapNoPut extends MainlineDmabufOps {
  override unmap_dma_buf(attachment: DmaBufAttachment, sgt: KObj<unknown>, dir: DmaDir): void {
    dma_buf_free_sgt(this.mappingKernel, { dev: attachment.dev, dmabuf: attachment.dmabuf }, sgt as KObj<DmaBufDma>, dir);
  }
}

export const revDrainUnmapNoPut = vfioExporter('bug:rev-drain-unmap-no-put', 'mainline unmap_dma_buf without the drain kref_put: a later revoke waits forever', {
  port: { ...MAINLINE_PORT, makeOps: (k, cfg) => new UnmapNoPut(k, cfg.routeTo) }, profiles: ['mainline'], bugOf: 'REV-DRAIN',
});

/** iommufd detaches its pinned attachment without dma_buf_unpin(). */
class DetachPinned extends IommufdAttachment {
  protected override async unpinForDetach(): Promise<void> {
    /* the unpin is left out */
  }
}

export const revPinDetachPinned = iommufdPlugin('bug:rev-pin-detach-pinned', (k, d, e) => new DetachPinned(k, d, e), 'REV-PIN', true);
