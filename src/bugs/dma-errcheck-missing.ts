// Seeded bug (DMA-ERRCHECK): the dma_mapping_error() check dropped: a failed
// dma_map_phys() goes into the table as DMA_MAPPING_ERROR.
import { withDma } from './conversion-helpers.ts';

export const dmaErrcheckMissing = withDma('bug:dma-errcheck-missing', 'DMA-ERRCHECK', { dma_mapping_error: () => 0 });
