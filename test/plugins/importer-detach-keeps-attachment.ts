// A user's DMA importer whose detach drops its mapping and its dma-buf reference but never calls
// dma_buf_detach(): the attachment stays on the dma-buf's list, and every later move_notify (a revoke,
// the cleanup at close) still reaches it. At close the count is the one finding L1 documents (an
// attachment the model expects no move_notify for gets one), for another reason: the attachment was
// detached, not the dma-buf revoked before. Smallest: create(dev0); attach(buf0, dma); detach(att0); close(dev0).
import { DmaImporterAttachment, dma_buf_dynamic_attach, dma_buf_put, type ImporterPlugin } from 'dmabuf-conform';

class KeptAttachment extends DmaImporterAttachment {
  override async detach(): Promise<void> {
    if (this.mapped()) await this.unmap();
    await dma_buf_put(this.dmabuf, 'my_importer_detach'); // BUG: no dma_buf_detach(this.k, this.attach) before the put
  }
}

const importer: ImporterPlugin = {
  kind: 'importer', name: 'user-importer-detach-keeps-attachment', importer: 'dma', profiles: ['v8'],
  description: 'a DMA importer whose detach forgets dma_buf_detach()',
  async attach(k, dmabuf, _exporter, { p2p, dev }) {
    const imp = new KeptAttachment(k, dmabuf);
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

export default importer;
