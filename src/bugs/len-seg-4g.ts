// Seeded bug (LEN-SEG): MAX_SG_ENT_SZ = ALIGN_DOWN(UINT_MAX) + PAGE_SIZE = 4 GiB,
// one page more than sg->length (unsigned int) can hold.
import { UINT_MAX, alignDown } from '../../models/u64.ts';
import { withOps } from './conversion-helpers.ts';

export const lenSeg4G = withOps('bug:len-seg-4g', 'LEN-SEG', { maxSgEntSz: (k) => alignDown(UINT_MAX, k.dma.pageSize) + k.dma.pageSize });
