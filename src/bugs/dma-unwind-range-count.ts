// Seeded bug (DMA-UNWIND): the error path unmaps entries [0, i) — i counts
// ranges, not entries — so the entries of split ranges stay mapped.
import { withOps } from './conversion-helpers.ts';

export const dmaUnwindRangeCount = withOps('bug:dma-unwind-range-count', 'DMA-UNWIND', {
  unwind_entries: (k, sgt, ranges, dir, ops) => ops.unmap_entries(k, sgt, ranges, dir),
});
