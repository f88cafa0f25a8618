// Seeded bug (LEN-ADDR): fill_sg_entry() without `addr += len`: every chunk of
// a split range points at the range's start.
import { MAINLINE_OPS } from '../impl/dma-buf-mapping.ts';
import { withOps } from './conversion-helpers.ts';

export const lenAddrNoAdvance = withOps('bug:len-addr-no-advance', 'LEN-ADDR', {
  fill_sg_entry: (k, sgt, at, length, addr, ops) => {
    const max = ops.maxSgEntSz(k);
    let next = at;
    for (let left = length; left > 0n; left -= left < max ? left : max) next = MAINLINE_OPS.fill_sg_entry(k, sgt, next, left < max ? left : max, addr, ops);
    return next;
  },
});
