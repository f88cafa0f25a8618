// Seeded bugs in the importers (003 iommufd; a dynamic DMA importer).
import { IommufdAttachment } from '../impl/iommufd.ts';
import { DmaImporterAttachment } from '../impl/dma_importer.ts';
import type { DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { dma_buf_unmap_attachment } from '../impl/dma-buf-core.ts';

/** iommufd that marks itself revoked but leaves the MMIO mapped in the IOMMU. */
export class IommufdNoUnmapOnRevoke extends IommufdAttachment {
  override move_notify(_a: DmaBufAttachment): void {
    this.revoked = true; // BUG: the domain mapping stays
  }
}

/** iommufd that maps again after a revoke (v8 pages stay revoked). */
export class IommufdRemapsAfterRevoke extends IommufdAttachment {
  override move_notify(a: DmaBufAttachment): void {
    super.move_notify(a);
    this.revoked = false; // BUG: revoked pages become mappable again
  }
}

/** DMA importer that unmaps on move_notify but keeps the sg_table pointer. */
export class DmaImporterStaleSgt extends DmaImporterAttachment {
  override move_notify(_a: DmaBufAttachment): void {
    if (this.sgt) dma_buf_unmap_attachment(this.k, this.attach, this.sgt, 'DMA_BIDIRECTIONAL'); // BUG: this.sgt not cleared
  }
}
