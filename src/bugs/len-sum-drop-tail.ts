// Seeded bug (LEN-SUM): fill_sg_entry() loops `while (length >= MAX_SG_ENT_SZ)`,
// dropping the final partial chunk of every range.
import { MAINLINE_OPS } from '../impl/dma-buf-mapping.ts';
import { withOps } from './conversion-helpers.ts';

export const lenSumDropTail = withOps('bug:len-sum-drop-tail', 'LEN-SUM', {
  fill_sg_entry: (k, sgt, at, length, addr, ops) => {
    const max = ops.maxSgEntSz(k);
    return MAINLINE_OPS.fill_sg_entry(k, sgt, at, length - (length % max), addr, ops);
  },
});
