// Seeded bug (DMA-LEAK): dma_buf_free_sgt() forgets the per-range
// dma_unmap_phys() calls.
import { withOps } from './conversion-helpers.ts';

export const dmaLeakNoUnmap = withOps('bug:dma-leak-no-unmap', 'DMA-LEAK', { unmap_entries: () => undefined });
