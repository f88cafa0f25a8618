// Seeded bug (DMA-IOVA): dma_iova_sync() skipped: the span is handed to the
// device before the IOTLB sync.
import { withDma } from './conversion-helpers.ts';

export const dmaIovaNoSync = withDma('bug:dma-iova-no-sync', 'DMA-IOVA', { dma_iova_sync: () => 0 });
