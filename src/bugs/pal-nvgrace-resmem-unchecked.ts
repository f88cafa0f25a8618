// Seeded bug (PAL-INPUT): nvgrace_get_dmabuf_phys() (002 v8 11/11) without
// `nvdev->resmem.memlength &&`: on a Grace Blackwell GPU, which has no resmem
// (nvgrace-gpu/main.c: "resmem size is 0" when the MIG hardware bug is fixed),
// region 2 is taken as 0 bytes of device memory at 0 instead of the GPU's
// own BAR 2, and every range of it is -EINVAL.
import { err, ok } from '../../models/errno.ts';
import { RESMEM_REGION_INDEX, USEMEM_REGION_INDEX } from '../../models/pal.ts';
import { vfio_pci_core_fill_phys_vec, vfio_pci_core_get_dmabuf_phys, type CreateOps } from '../impl/vfio/dmabuf_phys.ts';
import { palBug } from './pal-helpers.ts';

const get_dmabuf_phys: CreateOps['get_dmabuf_phys'] = (dev, region_index, dma_ranges) => {
  const nv = dev.nvgrace;
  const mem_region = nv && region_index === RESMEM_REGION_INDEX ? nv.resmem : nv && region_index === USEMEM_REGION_INDEX ? nv.usemem : undefined; // BUG: resmem.memlength unchecked
  if (!mem_region) return vfio_pci_core_get_dmabuf_phys(dev, region_index, dma_ranges);
  const provider = dev.provider(0);
  if (!provider) return err('-EINVAL');
  const phys = vfio_pci_core_fill_phys_vec(dma_ranges, mem_region.memphys, mem_region.memlength);
  return phys.ok ? ok({ phys: phys.value, provider }) : phys;
};

export const palNvgraceResmemUnchecked = palBug('bug:pal-nvgrace-resmem-unchecked', 'PAL-INPUT', { get_dmabuf_phys });
