// Seeded bug (PAL-FILL): vfio_pci_core_fill_phys_vec() stores the BAR offset
// instead of start + offset.
import { ok } from '../../models/errno.ts';
import { vfio_pci_core_get_dmabuf_phys } from '../impl/vfio/dmabuf_phys.ts';
import { palBug } from './pal-helpers.ts';

export const palFillNoStart = palBug('bug:pal-fill-no-start', 'PAL-FILL', {
  get_dmabuf_phys: (dev, region, ranges) => {
    const r = vfio_pci_core_get_dmabuf_phys(dev, region, ranges);
    return r.ok ? ok({ ...r.value, phys: r.value.phys.map((p, i) => ({ paddr: ranges[i]!.offset, len: p.len })) }) : r;
  },
});
