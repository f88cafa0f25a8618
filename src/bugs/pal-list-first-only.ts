// Seeded bug (PAL-LIST): only the first range is checked against the BAR
// end, so later ranges may point past the BAR into someone else's MMIO.
import { ok } from '../../models/errno.ts';
import { vfio_pci_core_fill_phys_vec } from '../impl/vfio/dmabuf_phys.ts';
import { palBug } from './pal-helpers.ts';

export const palListFirstOnly = palBug('bug:pal-list-first-only', 'PAL-LIST', {
  get_dmabuf_phys: (dev, region, ranges) => {
    const provider = dev.provider(region);
    const bar = dev.bars.find((b) => b.index === region);
    if (!provider || !bar) return { ok: false, errno: '-EINVAL' };
    const first = vfio_pci_core_fill_phys_vec(ranges.slice(0, 1), bar.start, bar.size);
    if (!first.ok) return first;
    return ok({ provider, phys: ranges.map((r) => ({ paddr: bar.start + r.offset, len: r.length })) });
  },
});
