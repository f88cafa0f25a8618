// Ports of the VFIO create-path validation (002 v8 10/11,
// drivers/vfio/pci/vfio_pci_dmabuf.c; nvgrace_get_dmabuf_phys from
// drivers/vfio/pci/nvgrace-gpu/main.c in the same series): run in the
// kernel's order up to, not including, the dma-buf allocation and export.
// phys_addr_t / size_t arithmetic wraps as in C.
import { err, ok, type Result } from '../../../models/errno.ts';
import { DMA_IOVA_USE_SWIOTLB, RESMEM_REGION_INDEX, USEMEM_REGION_INDEX, type DmaBufRequest, type DmaRange, type Pal, type PhysVec, type VfioDeviceView } from '../../../models/pal.ts';
import { VFIO_PCI_ROM_REGION_INDEX, type P2PProvider } from '../../../models/pci/types.ts';
import { checkAddOverflow, isAligned, u64, type PageSize, type PhysAddr, type U64 } from '../../../models/u64.ts';

/** The driver ops a create path calls: vfio-pci's or nvgrace's get_dmabuf_phys. */
export type GetDmabufPhys = (dev: VfioDeviceView, region_index: number, dma_ranges: readonly DmaRange[]) => Result<{ phys: PhysVec[]; provider: P2PProvider }>;

export function vfio_pci_core_fill_phys_vec(dma_ranges: readonly DmaRange[], start: PhysAddr, len: PhysAddr): Result<PhysVec[]> {
  const phys_vec: PhysVec[] = [];
  const max_addr = u64(start + len);
  for (const r of dma_ranges) {
    if (!r.length) return err('-EINVAL');
    const paddr = checkAddOverflow(start, r.offset);
    const end = checkAddOverflow(paddr.sum, r.length);
    if (paddr.overflow || end.overflow) return err('-EOVERFLOW');
    if (end.sum > max_addr) return err('-EINVAL');
    phys_vec.push({ paddr: paddr.sum, len: r.length });
  }
  return ok(phys_vec);
}

function pci_resource(dev: VfioDeviceView, bar: number): { start: U64; len: U64 } {
  const b = dev.bars.find((x) => x.index === bar);
  return { start: b?.start ?? 0n, len: b?.size ?? 0n };
}

export const vfio_pci_core_get_dmabuf_phys: GetDmabufPhys = (dev, region_index, dma_ranges) => {
  const provider = dev.provider(region_index);
  if (!provider) return err('-EINVAL');
  const { start, len } = pci_resource(dev, region_index);
  const phys = vfio_pci_core_fill_phys_vec(dma_ranges, start, len);
  return phys.ok ? ok({ phys: phys.value, provider }) : phys;
};

export const nvgrace_get_dmabuf_phys: GetDmabufPhys = (dev, region_index, dma_ranges) => {
  const nv = dev.nvgrace;
  let mem_region: { memphys: PhysAddr; memlength: U64 } | undefined;
  if (nv && nv.resmem.memlength && region_index === RESMEM_REGION_INDEX) mem_region = nv.resmem;
  else if (nv && region_index === USEMEM_REGION_INDEX) mem_region = nv.usemem;
  if (mem_region) {
    const provider = dev.provider(0);
    if (!provider) return err('-EINVAL');
    const phys = vfio_pci_core_fill_phys_vec(dma_ranges, mem_region.memphys, mem_region.memlength);
    return phys.ok ? ok({ phys: phys.value, provider }) : phys;
  }
  return vfio_pci_core_get_dmabuf_phys(dev, region_index, dma_ranges);
};

export function validate_dmabuf_input(dma_ranges: readonly DmaRange[], pageSize: PageSize): Result<U64> {
  let length = 0n;
  for (const r of dma_ranges) {
    if (!r.length || !isAligned(r.offset, pageSize) || !isAligned(r.length, pageSize)) return err('-EINVAL');
    const sum = checkAddOverflow(length, r.length);
    if (sum.overflow) return err('-EINVAL');
    length = sum.sum;
  }
  if (length & DMA_IOVA_USE_SWIOTLB) return err('-EINVAL');
  return ok(length);
}

/** The steps of the create path, one decision each: the seams a one-line variant swaps (a seeded bug, a user's plugin). */
export interface CreateOps {
  /** `region_index >= VFIO_PCI_ROM_REGION_INDEX` gives -ENODEV: false for those. */
  readonly region_index_valid: (region_index: number) => boolean;
  readonly validate_dmabuf_input: (dma_ranges: readonly DmaRange[], pageSize: PageSize) => Result<U64>;
  readonly get_dmabuf_phys: GetDmabufPhys;
}

const vfio_pci_region_index_valid = (region_index: number): boolean => region_index < VFIO_PCI_ROM_REGION_INDEX;

export function createOps(dev: VfioDeviceView): CreateOps {
  return { region_index_valid: vfio_pci_region_index_valid, validate_dmabuf_input, get_dmabuf_phys: dev.nvgrace ? nvgrace_get_dmabuf_phys : vfio_pci_core_get_dmabuf_phys };
}

/** vfio_pci_core_feature_dma_buf() from its first check to
 *  vfio_device_try_get_registration(), inclusive; the allocation of priv and
 *  phys_vec is the view's (allocPriv), called where the seed allocates them. */
export function vfioDmaBufPhysFromRequest(dev: VfioDeviceView, req: DmaBufRequest, ops: CreateOps = createOps(dev)): Result<Pal> {
  if (!dev.hasGetDmabufPhys) return err('-EOPNOTSUPP');
  if (!req.nrRanges || req.flags) return err('-EINVAL');
  // Mainline (702809dabdec) also claims the BAR's regions here: vfio_pci_core_setup_barmap(), when the port gives it.
  if (!ops.region_index_valid(req.regionIndex) || (dev.setupBarmap && dev.setupBarmap(req.regionIndex))) return err('-ENODEV');
  if (req.ranges.length < req.nrRanges) return err('-EFAULT'); // memdup_array_user
  const dma_ranges = req.ranges.slice(0, req.nrRanges);
  const length = ops.validate_dmabuf_input(dma_ranges, dev.pageSize);
  if (!length.ok) return length;
  // priv = kzalloc(); priv->phys_vec = kcalloc(): before get_dmabuf_phys, as the seed has them.
  if (dev.allocPriv && !dev.allocPriv()) return err('-ENOMEM');
  const phys = ops.get_dmabuf_phys(dev, req.regionIndex, dma_ranges);
  if (!phys.ok) return phys;
  if (!dev.registrationAlive) return err('-ENODEV');
  return ok({ phys: phys.value.phys, size: length.value, provider: phys.value.provider });
}
