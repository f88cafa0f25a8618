// The model of VFIO_DEVICE_FEATURE_DMA_BUF (002 v8 10/11,
// drivers/vfio/pci/vfio_pci_dmabuf.c): what the create path must answer for
// a request — the errno, in the kernel's order, or the physical address
// list (PAL) and the dma-buf size. Overlapping and duplicate ranges are legal.
import { err, ok, type Result } from './errno.ts';
import { U64_MAX, isAligned, type PageSize, type PhysAddr, type U64 } from './u64.ts';
import { VFIO_PCI_ROM_REGION_INDEX, type Bar, type P2PProvider } from './pci/types.ts';
import { spec, type Profile } from './profiles.ts';

/** struct vfio_region_dma_range. */
export interface DmaRange {
  readonly offset: U64;
  readonly length: U64;
}

/** struct vfio_device_feature_dma_buf with its trailing dma_ranges[]. */
export interface DmaBufRequest {
  readonly regionIndex: number;
  readonly openFlags: number;
  readonly flags: number;
  /** nr_ranges as userspace wrote it (u32). */
  readonly nrRanges: number;
  /** The dma_ranges[] userspace actually provided (fewer than nrRanges faults). */
  readonly ranges: readonly DmaRange[];
}

/** struct dma_buf_phys_vec. */
export interface PhysVec {
  readonly paddr: PhysAddr;
  readonly len: U64;
}

/** nvgrace-gpu device memory regions (struct mem_region): resmem is BAR 2, usemem BAR 4. */
export interface NvgraceMemory {
  readonly resmem: { readonly memphys: PhysAddr; readonly memlength: U64 };
  readonly usemem: { readonly memphys: PhysAddr; readonly memlength: U64 };
}

/** The device as the create path sees it. */
export interface VfioDeviceView {
  /** vdev->pci_ops->get_dmabuf_phys is set (vfio-pci and nvgrace set it). */
  readonly hasGetDmabufPhys: boolean;
  readonly bars: readonly Bar[];
  /** pcim_p2pdma_provider(pdev, bar) for each BAR index. */
  readonly provider: (bar: number) => P2PProvider | null;
  /** vfio_device_try_get_registration() would succeed. */
  readonly registrationAlive: boolean;
  readonly pageSize: PageSize;
  /** Present for the nvgrace-gpu variant. */
  readonly nvgrace?: NvgraceMemory;
  /** vfio_pci_core_setup_barmap(vdev, region): 0 once the BAR's regions are claimed and iomapped, else a
   *  negative errno. Present where the create path checks it with the region index (mainline "vfio/pci:
   *  Check BAR resources before exporting a DMABUF", 702809dabdec: a failure is -ENODEV); the seed's
   *  create never claims them. */
  readonly setupBarmap?: (bar: number) => number;
  /** kzalloc(priv), then kcalloc(phys_vec): false when either fails (-ENOMEM). The seed allocates both
   *  after the input checks and before get_dmabuf_phys() (002 v8 10/11); absent, nothing fails. */
  readonly allocPriv?: () => boolean;
}

export interface Pal {
  readonly phys: readonly PhysVec[];
  readonly size: U64;
  readonly provider: P2PProvider;
}

/** DMA_IOVA_USE_SWIOTLB: the top bit of a dma_iova_state size. */
export const DMA_IOVA_USE_SWIOTLB: U64 = 1n << 63n;
export const RESMEM_REGION_INDEX = 2;
export const USEMEM_REGION_INDEX = 4;

/** validate_dmabuf_input(): every range non-empty and page aligned, the sum
 *  fits size_t and does not reach the SWIOTLB bit. Returns the size. */
export function validateRanges(ranges: readonly DmaRange[], pageSize: PageSize): Result<U64> {
  let size = 0n;
  for (const r of ranges) {
    if (r.length === 0n || !isAligned(r.offset, pageSize) || !isAligned(r.length, pageSize)) return err('-EINVAL');
    size += r.length;
    if (size > U64_MAX) return err('-EINVAL');
  }
  if ((size & DMA_IOVA_USE_SWIOTLB) !== 0n) return err('-EINVAL');
  return ok(size);
}

/** vfio_pci_core_fill_phys_vec(): each range inside [start, start + len). */
export function fillPhysVec(ranges: readonly DmaRange[], start: PhysAddr, len: U64): Result<PhysVec[]> {
  const out: PhysVec[] = [];
  for (const r of ranges) {
    if (r.length === 0n) return err('-EINVAL');
    const paddr = start + r.offset;
    if (paddr > U64_MAX || paddr + r.length > U64_MAX) return err('-EOVERFLOW');
    if (paddr + r.length > start + len) return err('-EINVAL');
    out.push({ paddr, len: r.length });
  }
  return ok(out);
}

/** The memory a region index exports: a BAR, or nvgrace device memory (with BAR 0's provider). */
export function exportedMemory(dev: Pick<VfioDeviceView, 'bars' | 'nvgrace'>, region: number): { start: PhysAddr; len: U64; providerBar: number } | undefined {
  const nv = dev.nvgrace;
  if (nv && nv.resmem.memlength !== 0n && region === RESMEM_REGION_INDEX) return { start: nv.resmem.memphys, len: nv.resmem.memlength, providerBar: 0 };
  if (nv && region === USEMEM_REGION_INDEX) return { start: nv.usemem.memphys, len: nv.usemem.memlength, providerBar: 0 };
  const bar = dev.bars.find((b) => b.index === region);
  return { start: bar?.start ?? 0n, len: bar?.size ?? 0n, providerBar: region };
}

/** get_dmabuf_phys(): the provider, then the PAL. */
export function getDmabufPhys(dev: VfioDeviceView, region: number, ranges: readonly DmaRange[]): Result<{ phys: PhysVec[]; provider: P2PProvider }> {
  const mem = exportedMemory(dev, region)!;
  const provider = dev.provider(mem.providerBar);
  if (!provider) return err('-EINVAL');
  const phys = fillPhysVec(ranges, mem.start, mem.len);
  return phys.ok ? ok({ phys: phys.value, provider }) : phys;
}

/** vfio_pci_core_setup_barmap() on a device's BARs: pci_request_selected_regions() fails -EBUSY (-16) on a
 *  BAR another driver holds (`busy`); pci_iomap() is NULL (-ENOMEM, -12) for an absent, empty or
 *  unassigned BAR; else 0. */
export function setupBarmapOf(bars: readonly Bar[], busy: readonly number[] = []): (bar: number) => number {
  return (bar) => {
    if (busy.includes(bar)) return -16;
    const b = bars.find((x) => x.index === bar);
    return !b || b.size === 0n || b.mappable === false ? -12 : 0;
  };
}

/** The view as a profile's create path sees it: where the create claims the BAR (createClaimsBar), the
 *  claim of these BARs with no region held elsewhere, unless the view has its own. */
export function viewUnder(view: VfioDeviceView, profile: Profile): VfioDeviceView {
  return spec(profile).createClaimsBar && !view.setupBarmap ? { ...view, setupBarmap: setupBarmapOf(view.bars) } : view;
}

/** vfio_pci_core_feature_dma_buf() up to the dma-buf export, in the kernel's order. */
export function vfioDmaBufCreate(dev: VfioDeviceView, req: DmaBufRequest): Result<Pal> {
  if (!dev.hasGetDmabufPhys) return err('-EOPNOTSUPP');
  if (req.nrRanges === 0 || req.flags !== 0) return err('-EINVAL');
  if (req.regionIndex >= VFIO_PCI_ROM_REGION_INDEX || (dev.setupBarmap && dev.setupBarmap(req.regionIndex) !== 0)) return err('-ENODEV');
  if (req.ranges.length < req.nrRanges) return err('-EFAULT');
  const ranges = req.ranges.slice(0, req.nrRanges);
  const size = validateRanges(ranges, dev.pageSize);
  if (!size.ok) return size;
  if (dev.allocPriv && !dev.allocPriv()) return err('-ENOMEM');
  const phys = getDmabufPhys(dev, req.regionIndex, ranges);
  if (!phys.ok) return phys;
  if (!dev.registrationAlive) return err('-ENODEV');
  return ok({ phys: phys.value.phys, size: size.value, provider: phys.value.provider });
}
