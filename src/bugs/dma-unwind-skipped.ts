// Seeded bug (DMA-UNWIND): the err_unmap_dma walk is skipped, so a failure
// on range i leaves ranges 0..i-1 mapped.
import { withOps } from './conversion-helpers.ts';

export const dmaUnwindSkipped = withOps('bug:dma-unwind-skipped', 'DMA-UNWIND', { unwind_entries: () => undefined });
