// Seeded bug (LEN-ALIGN): the 8 GiB fix reverted — MAX_SG_ENT_SZ = UINT_MAX, so
// every entry after the first of a > 4 GiB range starts one byte short of a page.
import { UINT_MAX } from '../../models/u64.ts';
import { withOps } from './conversion-helpers.ts';

export const lenAlignUintMax = withOps('bug:len-align-uint-max', 'LEN-ALIGN', { maxSgEntSz: () => UINT_MAX });
