// The core converters of the converter profile (004, Jason Gunthorpe,
// 2026-04-22): "The exporter provides the address data, the importer
// provides the iommu_domain. The core code, and only the core code, has both
// and does the required operation". No code was posted; this is the design
// on the simulated kernel. PAL→SGT gets the PAL from the exporter's map_phys
// and converts it with dma_buf_phys_vec_to_sgt() (the PAL helper's port of
// drivers/dma-buf/dma-buf-mapping.c); PAL→iommu_domain maps every range with
// IOMMU_MMIO ("For now all entries are assumed to be MMIO", 000 RFC 21/26).
// Both hand the importer only DMA addresses; revoke undoes them exactly.
import type { Errno } from '../../models/errno.ts';
import type { PhysVec } from '../../models/pal.ts';
import type { P2PProvider } from '../../models/pci/types.ts';
import type { DmaAddr } from '../../models/u64.ts';
import type { DmaDir } from '../kernel/dma.ts';
import { IOMMU_MMIO, IOMMU_READ, IOMMU_WRITE, type IommuDomain } from '../kernel/iommu.ts';
import type { KObj } from '../kernel/objects.ts';
import { dma_buf_free_sgt, dma_buf_phys_vec_to_sgt, type Attachment, type DmaBufDma, type MappingKernel } from './dma-buf-mapping.ts';

/** struct dma_buf_mapping_pal_exp_ops: what a PAL exporter gives the core (000 RFC 21/26). */
export interface PalExpOps {
  map_phys(): { ok: true; pal: KObj<readonly PhysVec[]> } | { ok: false; errno: Errno };
  unmap_phys(pal: KObj<readonly PhysVec[]>): void;
}

/** What the core keeps for a PAL→SGT attachment: the PAL stays on the core's side. */
export interface SgtConversion {
  readonly pal: KObj<readonly PhysVec[]>;
  readonly dma: KObj<DmaBufDma>;
}

/** What the core keeps for a PAL→iommu_domain attachment; the importer gets only `iovas`. */
export interface DomainConversion {
  readonly pal: KObj<readonly PhysVec[]>;
  readonly iovas: readonly DmaAddr[];
}

export const DOMAIN_PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO;

export class DmaBufConverters {
  constructor(readonly k: MappingKernel) {}

  /** PAL→SGT map: map_phys, then dma_buf_phys_vec_to_sgt(); a failed conversion gives the PAL back.
   *  The provider is read only once map_phys has handed out the PAL: it belongs to the exporter's
   *  device, and map_phys's revoked check is what says the device (and its devres providers) still lives. */
  palToSgtMap(attach: Attachment, provider: () => P2PProvider, exp: PalExpOps, size: bigint, dir: DmaDir): { ok: true; conv: SgtConversion } | { ok: false; errno: Errno } {
    const got = exp.map_phys();
    if (!got.ok) return got;
    const r = dma_buf_phys_vec_to_sgt(this.k, attach, provider(), this.k.heap.use(got.pal, 'dma_buf_pal_to_sgt'), size, dir);
    if (!r.ok) {
      exp.unmap_phys(got.pal);
      return r;
    }
    return { ok: true, conv: { pal: got.pal, dma: r.dma } };
  }

  /** PAL→SGT unmap (on unmap and on revoke): dma_buf_free_sgt(), then unmap_phys. */
  palToSgtUnmap(attach: Attachment, exp: PalExpOps, conv: SgtConversion, dir: DmaDir): void {
    dma_buf_free_sgt(this.k, attach, conv.dma, dir);
    exp.unmap_phys(conv.pal);
  }

  /** PAL→iommu_domain map: every range into the importer's domain with IOMMU_MMIO. */
  palToDomainMap(domain: IommuDomain, owner: string, exp: PalExpOps): { ok: true; conv: DomainConversion } | { ok: false; errno: Errno } {
    const got = exp.map_phys();
    if (!got.ok) return got;
    const iovas = this.k.heap.use(got.pal, 'dma_buf_pal_to_domain').map((p) => domain.iommu_map(p.paddr, p.len, DOMAIN_PROT, owner));
    return { ok: true, conv: { pal: got.pal, iovas } };
  }

  /** PAL→iommu_domain unmap (on unmap and on revoke): every range out of the domain, then unmap_phys. */
  palToDomainUnmap(domain: IommuDomain, exp: PalExpOps, conv: DomainConversion): void {
    const phys = this.k.heap.use(conv.pal, 'dma_buf_pal_domain_unmap');
    conv.iovas.forEach((iova, i) => domain.iommu_unmap(iova, phys[i]!.len));
    exp.unmap_phys(conv.pal);
  }
}
