// A simulated IOMMU domain (iommu_map/iommu_unmap) as iommufd drives it:
// every mapping keeps its protection flags so IOMMUFD-MMIO can be checked.
import type { DmaAddr, PhysAddr, U64 } from '../../models/u64.ts';

export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;
export const IOMMU_MMIO = 4;

export interface IommuMapping {
  readonly iova: DmaAddr;
  readonly paddr: PhysAddr;
  readonly size: U64;
  readonly prot: number;
  readonly owner: string;
}

export class IommuDomain {
  readonly mappings: IommuMapping[] = [];
  private nextIova: DmaAddr = 1n << 40n;

  iommu_map(paddr: PhysAddr, size: U64, prot: number, owner: string): DmaAddr {
    const iova = this.nextIova;
    this.nextIova += size + (1n << 21n);
    this.mappings.push({ iova, paddr, size, prot, owner });
    return iova;
  }

  iommu_unmap(iova: DmaAddr, size: U64): U64 {
    const i = this.mappings.findIndex((m) => m.iova === iova && m.size === size);
    if (i < 0) return 0n;
    this.mappings.splice(i, 1);
    return size;
  }

  of(owner: string): IommuMapping[] {
    return this.mappings.filter((m) => m.owner === owner);
  }
}
