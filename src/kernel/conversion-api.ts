// The kernel calls a PAL → SGT conversion makes (a `conversion` plugin's map/unmap: dma_buf_phys_vec_to_sgt()
// and dma_buf_free_sgt() of torvalds/linux drivers/dma-buf/dma-buf-mapping.c, or dma_buf_map()/dma_buf_unmap()
// of 002 v8 06/11), as functions of the kernel a conversion is given (`k`, a MappingKernel), named and shaped as
// the C calls them. Each goes through the simulated kernel's own service, so every check the bundled ports meet
// (DMA-API debug: DMA-UNMAP, DMA-ERRCHECK, DMA-IOVA, DMA-LEAK; KASAN's heap; the resv assertion) judges a
// plugin's calls the same way; nothing here reaches past them. The scatterlist calls (sg_alloc_table,
// sg_free_table, sg_at, newSgTable: ./scatterlist.ts) and dma_use_iova/newIovaState (./dma.ts) are exported
// as they are.
//
// Units: addresses (phys_addr_t, dma_addr_t) and lengths (size_t) are u64 `bigint`, in bytes; an `int` result
// is a negative errno number (-12 = -ENOMEM) or 0, as in C; errnoName() turns one into the name a MapResult
// carries. `dir` is the enum dma_data_direction a map and its unmap must agree on.
import { errnoOf, type Errno } from '../../models/errno.ts';
import type { MapType, P2PProvider } from '../../models/pci/types.ts';
import type { DmaAddr, PhysAddr, U64 } from '../../models/u64.ts';
import type { MappingKernel } from '../impl/dma-buf-mapping.ts';
import type { DmaDir, DmaIovaState } from './dma.ts';
import type { Site } from './objects.ts';

/** The errno name of a kernel `int` result (`-12` → `'-ENOMEM'`), for a MapResult's `errno`; a value the
 *  catalog does not name is `-EINVAL`, as the bundled ports' errno() does. 0 and positive values are no error. */
export function errnoName(ret: number): Errno {
  return errnoOf(ret) ?? '-EINVAL';
}

/** dma_resv_assert_held(attach->dmabuf->resv) (include/linux/dma-resv.h): the map and unmap of a dynamic
 *  importer's attachment run with the dma-buf's reservation lock held. Not held: LOCK-RESV, naming `site`. */
export function dma_resv_assert_held(k: MappingKernel, resv: unknown, site: Site): void {
  k.assertResvHeld(resv, site);
}

/** pci_p2pdma_map_type(provider, attach->dev) (drivers/pci/p2pdma.c): how the importing device reaches the
 *  provider's memory: 'BUS_ADDR' (through a switch: PCI bus addresses, no IOMMU), 'THRU_HOST_BRIDGE' (through
 *  the host bridge: the DMA API maps it), 'NOT_SUPPORTED' (no path: the conversion must fail -EINVAL). */
export function pci_p2pdma_map_type(k: MappingKernel, provider: P2PProvider, dev: unknown): MapType {
  return k.p2pdmaMapType(provider, dev);
}

/** pci_p2pdma_bus_addr_map(provider, paddr) (include/linux/pci-p2pdma.h): the PCI bus address of CPU physical
 *  address `paddr` of the provider's BAR (paddr minus the BAR's bus offset), for a BUS_ADDR route, where the
 *  DMA API is not called and nothing needs unmapping. */
export function pci_p2pdma_bus_addr_map(k: MappingKernel, provider: P2PProvider, paddr: PhysAddr): DmaAddr {
  return k.busAddrMap(provider, paddr);
}

/** dma_map_phys(dev, phys, size, dir, attrs) (kernel/dma/mapping.c): map `size` bytes at `phys` for the device;
 *  the DMA address, or DMA_MAPPING_ERROR (u64 all ones) when the mapping failed (a fault the case injects). The
 *  machine decides the address: dma-direct answers `phys`, dma-iommu an IOVA of its own. Every mapping must be
 *  checked with dma_mapping_error() (else DMA-ERRCHECK at its unmap) and unmapped with the same size and `dir`
 *  (DMA-UNMAP; left mapped after the unmap: DMA-LEAK). */
export function dma_map_phys(k: MappingKernel, phys: PhysAddr, size: U64, dir: DmaDir): DmaAddr {
  return k.dma.dma_map_phys(phys, size, dir);
}

/** dma_mapping_error(dev, addr) (include/linux/dma-mapping.h): -ENOMEM (as the kernel's) when `addr` is
 *  DMA_MAPPING_ERROR, else 0; marks the mapping checked (DMA-API debug's check_mapping_error). */
export function dma_mapping_error(k: MappingKernel, addr: DmaAddr): number {
  return k.dma.dma_mapping_error(addr);
}

/** dma_unmap_phys(dev, addr, size, dir, attrs) (kernel/dma/mapping.c): unmap what dma_map_phys() returned.
 *  A never-mapped or twice-unmapped address, another size or direction: DMA-UNMAP; never checked: DMA-ERRCHECK. */
export function dma_unmap_phys(k: MappingKernel, addr: DmaAddr, size: U64, dir: DmaDir): void {
  k.dma.dma_unmap_phys(addr, size, dir);
}

/** dma_iova_try_alloc(dev, state, phys, size) (drivers/iommu/dma-iommu.c): reserve `size` bytes of IOVA space
 *  for one contiguous mapping of several ranges; true and `state` filled (dma_use_iova(state): true, state.addr
 *  the IOVA of `phys`'s offset in its page) or false with `state` zeroed (no IOMMU, or it refuses: map each range
 *  with dma_map_phys() instead). `state` is a struct dma_iova_state the caller allocated (newIovaState()). */
export function dma_iova_try_alloc(k: MappingKernel, state: DmaIovaState, phys: PhysAddr, size: U64): boolean {
  return k.dma.dma_iova_try_alloc(state, phys, size);
}

/** dma_iova_link(dev, state, phys, offset, size, dir, attrs) (drivers/iommu/dma-iommu.c): map `size` bytes at
 *  `phys` at byte `offset` of the IOVA space `state` reserved; 0 or a negative errno (-ENOMEM a fault; -EEXIST
 *  where the machine's IOMMU refuses a link onto a linked IOVA). Each range goes at its own offset (the sum of
 *  the lengths before it): a link overlapping another, or past the reservation, is DMA-IOVA. */
export function dma_iova_link(k: MappingKernel, state: DmaIovaState, phys: PhysAddr, offset: U64, size: U64, dir: DmaDir): number {
  return k.dma.dma_iova_link(state, phys, offset, size, dir);
}

/** dma_iova_sync(dev, state, offset, size) (drivers/iommu/dma-iommu.c): make the links of [offset, offset+size)
 *  visible to the device (the IOTLB sync); 0 or a negative errno. A device given IOVA that was never synced: DMA-IOVA. */
export function dma_iova_sync(k: MappingKernel, state: DmaIovaState, offset: U64, size: U64): number {
  return k.dma.dma_iova_sync(state, offset, size);
}

/** dma_iova_destroy(dev, state, mapped_len, dir, attrs) (drivers/iommu/dma-iommu.c): unlink the first
 *  `mapped_len` bytes and release the IOVA space; `mapped_len` must be what is linked (DMA-IOVA otherwise:
 *  links left behind or unlinked twice). `state` is zeroed. */
export function dma_iova_destroy(k: MappingKernel, state: DmaIovaState, mappedLen: U64, dir: DmaDir): void {
  k.dma.dma_iova_destroy(state, mappedLen, dir);
}
