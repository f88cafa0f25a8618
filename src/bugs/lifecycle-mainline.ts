// Seeded bugs of the mainline revoke contract (profile mainline), each one
// change to the faithful mainline ports.
import type { DmaDir } from '../kernel/dma.ts';
import type { KObj } from '../kernel/objects.ts';
import type { DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { dma_buf_free_sgt, type DmaBufDma } from '../impl/dma-buf-mapping.ts';
import { IommufdAttachment, iommufdPlugin } from '../impl/iommufd.ts';
import { MAINLINE_PORT, MainlineDmabufOps, drainOf } from '../impl/vfio/vfio_pci_dmabuf_mainline.ts';
import { dma_buf_move_notify } from '../impl/dma-buf-core.ts';
import { moveWalk, type VfioPciCoreDevice } from '../impl/vfio/vfio_pci_dmabuf.ts';
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

/** vfio_pci_dma_buf_move() of mainline with the drain's wait_for_completion() left out (what 1a8a5227f229 added):
 *  the revoke invalidates and drops its reference but goes on to change the device while an importer that
 *  finishes its invalidation later still maps the MMIO. */
async function moveWithoutWait(vdev: VfioPciCoreDevice, revoked: boolean): Promise<void> {
  const site = 'vfio_pci_dma_buf_move';
  const { k } = vdev;
  await moveWalk(vdev, revoked, site, async (priv, dmabuf) => {
    const d = drainOf(k, priv);
    await dmabuf.resv.lock(site);
    if (revoked) {
      priv.revoked = true;
      dma_buf_move_notify(k, dmabuf);
      d.kref.put(site, () => d.comp.complete());
    } else {
      d.kref.init();
      d.comp.reinit();
      priv.revoked = false;
      dma_buf_move_notify(k, dmabuf);
    }
    dmabuf.resv.unlock(site);
    // (the revoke's `wait_for_completion(&priv->comp)` is missing here)
  });
}

export const revDrainNoWait = vfioExporter('bug:rev-drain-no-wait', 'mainline revoke without wait_for_completion(): the device is reset while a late importer still maps it', {
  port: { ...MAINLINE_PORT, move: moveWithoutWait }, profiles: ['mainline'], bugOf: 'REV-WINDOW',
});

export const revCloseDisablesFirst = vfioExporter('bug:rev-close-disables-first', 'mainline close in the seed\'s order: vfio_pci_core_disable() before the dma-buf cleanup, with importers still mapping the BARs', {
  port: { ...MAINLINE_PORT, closeOrder: 'disable-first' }, profiles: ['mainline'], bugOf: 'REV-WINDOW',
});
