// Seeded bug (MATCH-CONVERT): the PAL→iommu_domain converter gives the PAL
// back on revoke but leaves its ranges mapped in the importer's domain.
// Seed: 004: "The core code, and only the core code, has both and does the
// required operation" — so the core alone must undo it; 003: "iommufd will
// unmap the dmabuf from the iommu page tables while it is revoked."
import type { IommuDomain } from '../kernel/iommu.ts';
import { DmaBufConverters, type DomainConversion, type PalExpOps } from '../impl/converters.ts';
import type { ConverterImpl } from '../rules/match-convert.ts';

class LeakyConverters extends DmaBufConverters {
  override palToDomainUnmap(_domain: IommuDomain, exp: PalExpOps, conv: DomainConversion): void {
    exp.unmap_phys(conv.pal);
  }
}

export const matchConverterLeak: ConverterImpl = { name: 'bug:match-converter-leak', bugOf: 'MATCH-CONVERT', make: (k) => new LeakyConverters(k) };
