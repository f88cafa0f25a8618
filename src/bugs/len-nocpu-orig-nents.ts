// Seeded bug (LEN-NOCPU): `dma->sgt.orig_nents = 0` forgotten, so importers
// see a CPU list of zero-length page-less entries.
import { dma_buf_free_sgt, dma_buf_phys_vec_to_sgt } from '../impl/dma-buf-mapping.ts';
import type { ConversionImpl } from '../rules/conversion.ts';

export const lenNocpuOrigNents: ConversionImpl = {
  name: 'bug:len-nocpu-orig-nents', bugOf: 'LEN-NOCPU', limit: 'page-aligned',
  map: (k, a, p, phys, size, dir) => {
    const r = dma_buf_phys_vec_to_sgt(k, a, p, phys, size, dir);
    if (r.ok) r.dma.value.sgt.orig_nents = r.dma.value.sgt.nents;
    return r;
  },
  unmap: dma_buf_free_sgt,
};
