// A dynamic DMA importer (the shape of an RDMA or GPU importer of a
// dma-buf): it attaches with move_notify, maps through the exporter's SGT
// path under the reservation lock, and drops its mapping on move_notify.
import type { Kernel } from '../kernel/kernel.ts';
import type { KObj } from '../kernel/objects.ts';
import type { ImporterAttachment, ImporterPlugin } from '../harness/plugin.ts';
import { dma_buf_detach, dma_buf_dynamic_attach, dma_buf_map_attachment, dma_buf_put, dma_buf_unmap_attachment, type DmaBuf, type DmaBufAttachment } from './dma-buf-core.ts';

const DIR = 'DMA_BIDIRECTIONAL';

export class DmaImporterAttachment implements ImporterAttachment {
  sgt: KObj<unknown> | null = null;
  attach!: KObj<DmaBufAttachment>;

  constructor(readonly k: Kernel, readonly dmabuf: DmaBuf) {}

  /** move_notify: the exporter moved or revoked the buffer; drop the mapping (resv is held). */
  move_notify(_a: DmaBufAttachment): void {
    if (!this.sgt) return;
    dma_buf_unmap_attachment(this.k, this.attach, this.sgt, DIR);
    this.sgt = null;
  }

  async map(): Promise<string> {
    const site = 'importer_map';
    await this.dmabuf.resv.lock(site);
    let ret = '-EBUSY';
    if (!this.sgt) {
      const r = dma_buf_map_attachment(this.k, this.attach, DIR);
      if (r.ok) this.sgt = r.sgt;
      ret = r.ok ? 'ok' : r.errno;
    }
    this.dmabuf.resv.unlock(site);
    return ret;
  }

  async unmap(): Promise<string> {
    const site = 'importer_unmap';
    await this.dmabuf.resv.lock(site);
    const had = this.sgt;
    if (had) dma_buf_unmap_attachment(this.k, this.attach, had, DIR);
    this.sgt = null;
    this.dmabuf.resv.unlock(site);
    return had ? 'ok' : '-EINVAL';
  }

  async detach(): Promise<void> {
    if (this.sgt) await this.unmap();
    await dma_buf_detach(this.k, this.attach);
    await dma_buf_put(this.dmabuf, 'importer_detach');
  }

  access(): string {
    if (!this.sgt) return '-ENODEV';
    if (this.sgt.freed) this.k.report('UAF-MAPPING', `importer DMA through an sg_table freed in ${this.sgt.freeSite}`, { allocSite: this.sgt.allocSite, freeSite: this.sgt.freeSite });
    return 'ok';
  }

  mapped(): boolean {
    return this.sgt !== null;
  }
}

export const dmaImporter: ImporterPlugin = {
  kind: 'importer', name: 'dma-importer', importer: 'dma', profiles: ['v8', 'rfc', 'converter', 'mainline'],
  description: 'dynamic DMA importer: maps the SGT, unmaps on move_notify',
  async attach(k, dmabuf, _exporter, { p2p, dev }) {
    const imp = new DmaImporterAttachment(k, dmabuf);
    dmabuf.file.get('dma_buf_get');
    const r = await dma_buf_dynamic_attach(k, dmabuf, dev, { allow_peer2peer: p2p, move_notify: (a) => imp.move_notify(a) });
    if (!r.ok) {
      await dma_buf_put(dmabuf, 'dma_buf_get');
      return r;
    }
    imp.attach = r.attach;
    return { ok: true, value: imp };
  },
};
