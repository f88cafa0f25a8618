// A user's VFIO exporter whose map places each range of a dma-buf in its own page of the IOVA span
// ("one IOVA page slot per range", as the user's device's BO table has it) instead of at the sum of the
// lengths before it: a range longer than a page overlaps the next range's link. The overlap is the one
// finding 1 (iova-link-offset-zero) documents, at another offset: the port links every range at 0.
// Smallest: a two-range create of two pages each, attach(dma), map, on a machine that grants the IOVA.
import { dma_buf_map, V8_PORT, VfioPciDmabufOps, vfioExporter, type DmaApi, type DmaBufAttachment, type DmaDir, type KObj } from 'dmabuf-conform';

class PageSlotOps extends VfioPciDmabufOps {
  override map_dma_buf(attachment: DmaBufAttachment, dir: DmaDir) {
    const site = 'vfio_pci_dma_buf_map';
    const priv = this.priv(attachment.dmabuf, site);
    attachment.dmabuf.resv.assertHeld('LOCK-RESV', site);
    if (priv.revoked) return { ok: false as const, errno: '-ENODEV' as const };
    const dma = this.mappingKernel.dma;
    let slot = 0n;
    // The IOVA window as the device sees it: range i at page i. BUG: a range longer than a page runs into the next slot.
    const slots = new Proxy(dma, {
      get: (t, p) => (p === 'dma_iova_link' ? (...a: Parameters<DmaApi['dma_iova_link']>) => t.dma_iova_link(a[0], a[1], t.pageSize * slot++, a[3], a[4]) : Reflect.get(t, p, t)),
    });
    const r = dma_buf_map({ ...this.mappingKernel, dma: slots }, { dev: attachment.dev, dmabuf: attachment.dmabuf }, this.k.heap.use(priv.provider, site), this.k.heap.use(priv.phys_vec, site), priv.size, dir);
    return r.ok ? { ok: true as const, sgt: r.dma as KObj<unknown> } : r;
  }
}

export default vfioExporter('user-iova-page-slots', 'map links range i at page i of the IOVA span', { port: { ...V8_PORT, makeOps: (k, cfg) => new PageSlotOps(k, cfg.routeTo) } });
