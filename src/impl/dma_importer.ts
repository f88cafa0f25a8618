// A dynamic DMA importer (the shape of an RDMA or GPU importer of a
// dma-buf): it attaches with move_notify, maps through the exporter's SGT
// path under the reservation lock, and drops its mapping on move_notify.
// The late variant finishes that invalidation later, as the 7.0 contract
// allows (an importer's fences and unmaps may complete after
// invalidate_mappings returns; VFIO waits for both, torvalds/linux
// 1a8a5227f229): move_notify queues the unmap as deferred work.
import type { Kernel } from '../kernel/kernel.ts';
import type { KObj } from '../kernel/objects.ts';
import type { ImporterAttachment, ImporterPlugin } from '../harness/plugin.ts';
import { dma_buf_detach, dma_buf_dynamic_attach, dma_buf_map_attachment, dma_buf_put, dma_buf_unmap_attachment, type DmaBuf, type DmaBufAttachment } from './dma-buf-core.ts';

const DIR = 'DMA_BIDIRECTIONAL';

export class DmaImporterAttachment implements ImporterAttachment {
  sgt: KObj<unknown> | null = null;
  attach!: KObj<DmaBufAttachment>;

  /** `late`: the unmap after an invalidation runs as deferred work (Kernel.queueWork), not in move_notify. */
  constructor(readonly k: Kernel, readonly dmabuf: DmaBuf, readonly late = false) {}

  /** move_notify: the exporter moved or revoked the buffer; drop the mapping (resv is held), now or as deferred work. */
  move_notify(_a: DmaBufAttachment): void {
    if (!this.sgt) return;
    if (this.late) {
      this.k.queueWork(`${this.dmabuf.name} importer unmap`, () => this.unmapLater());
      return;
    }
    dma_buf_unmap_attachment(this.k, this.attach, this.sgt, DIR);
    this.sgt = null;
  }

  /** The deferred half of an invalidation: take resv and unmap, unless the importer unmapped meanwhile (unmap, detach). */
  private async unmapLater(): Promise<void> {
    const site = 'importer_invalidate_work';
    if (!this.sgt) return;
    await this.dmabuf.resv.lock(site);
    const had = this.sgt;
    if (had) dma_buf_unmap_attachment(this.k, this.attach, had, DIR);
    this.sgt = null;
    this.dmabuf.resv.unlock(site);
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

/** The dynamic DMA importer, unmapping in move_notify or (`late`) in deferred work after it. */
function dmaImporterPlugin(name: string, late: boolean, profiles: ImporterPlugin['profiles'], description: string): ImporterPlugin {
  return {
    kind: 'importer', name, importer: 'dma', profiles, description,
    async attach(k, dmabuf, _exporter, { p2p, dev }) {
      const imp = new DmaImporterAttachment(k, dmabuf, late);
      dmabuf.file.get('dma_buf_get');
      const r = await dma_buf_dynamic_attach(k, dmabuf, dev, { allow_peer2peer: p2p, move_notify(a) { imp.move_notify(a); } });
      if (!r.ok) {
        await dma_buf_put(dmabuf, 'dma_buf_get');
        return r;
      }
      imp.attach = r.attach;
      return { ok: true, value: imp };
    },
  };
}

export const dmaImporter = dmaImporterPlugin('dma-importer', false, ['v8', 'rfc', 'converter', 'mainline'], 'dynamic DMA importer: maps the SGT, unmaps on move_notify');

/** Mainline only: the seed designs' move_notify contract has the importer unmap in the callback, and
 *  their VFIO revoke does not wait; the 7.0 revoke waits for every unmap (1a8a5227f229). */
export const dmaImporterLate = dmaImporterPlugin('dma-importer:late-unmap', true, ['mainline'], 'dynamic DMA importer that finishes its invalidation later: the unmap after invalidate_mappings runs as deferred work');
