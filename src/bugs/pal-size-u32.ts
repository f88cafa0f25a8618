// Seeded bug (PAL-SIZE): the total length summed in a u32, so a 4 GiB
// dma-buf claims a size of 0 (and 5 GiB one of 1 GiB).
import { ok } from '../../models/errno.ts';
import { u32 } from '../../models/u64.ts';
import { validate_dmabuf_input } from '../impl/vfio/dmabuf_phys.ts';
import { palBug } from './pal-helpers.ts';

export const palSizeU32 = palBug('bug:pal-size-u32', 'PAL-SIZE', {
  validate_dmabuf_input: (ranges, page) => {
    const r = validate_dmabuf_input(ranges, page);
    return r.ok ? ok(u32(r.value)) : r;
  },
});
