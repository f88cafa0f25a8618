// Seeded bug (LEN-NENTS): calc_sg_nents() without check_add_overflow (as in v8):
// the unsigned int count wraps and a tiny table is filled past its end.
import { UINT_MAX, divRoundUp, u32 } from '../../models/u64.ts';
import { dma_use_iova } from '../kernel/dma.ts';
import { withOps } from './conversion-helpers.ts';

export const lenNentsWrap = withOps('bug:len-nents-wrap', 'LEN-NENTS', {
  calc_sg_nents: (k, state, phys, size, ops) => {
    const max = ops.maxSgEntSz(k);
    if (state && dma_use_iova(state)) return Number(u32(divRoundUp(size, max)));
    return Number(phys.reduce((n, p) => u32(n + divRoundUp(p.len, max)), 0n) & UINT_MAX);
  },
});
