// Seeded bug (DMA-UNMAP): entries unmapped with DMA_BIDIRECTIONAL whatever
// direction they were mapped with.
import { withOps } from './conversion-helpers.ts';

export const dmaUnmapBidirectional = withOps('bug:dma-unmap-bidirectional', 'DMA-UNMAP', {
  unmap_entries: (k, sgt, count) => {
    for (let j = 0; j < count; j++) k.dma.dma_unmap_phys(sgt.sgl![j]!.dma_address, sgt.sgl![j]!.dma_length, 'DMA_BIDIRECTIONAL');
  },
});
