// Seeded bug (PAL-INPUT): validate_dmabuf_input() without the
// DMA_IOVA_USE_SWIOTLB check, so a total with bit 63 set reaches
// dma_iova_try_alloc() (the WARN the seed's comment guards against).
import { err, ok } from '../../models/errno.ts';
import { checkAddOverflow, isAligned } from '../../models/u64.ts';
import { palBug } from './pal-helpers.ts';

export const palInputNoSwiotlb = palBug('bug:pal-input-no-swiotlb', 'PAL-INPUT', {
  validate_dmabuf_input: (ranges, page) => {
    let length = 0n;
    for (const r of ranges) {
      if (!r.length || !isAligned(r.offset, page) || !isAligned(r.length, page)) return err('-EINVAL');
      const sum = checkAddOverflow(length, r.length);
      if (sum.overflow) return err('-EINVAL');
      length = sum.sum;
    }
    return ok(length);
  },
});
