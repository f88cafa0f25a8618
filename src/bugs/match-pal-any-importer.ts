// Seeded bug (MATCH-RESTRICT): the converter-profile core lets an importer's
// PAL entry match directly, so a non-iommufd importer is offered the
// physical addresses. Seed: 004: "No PAL *importer*, no exposing phys_addr_t
// to importers."
import { DmaBufMatchCore, type DmaBufMappingType } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class PalAnyImporter extends DmaBufMatchCore {
  protected override importable(type: DmaBufMappingType): boolean {
    return type !== this.iommu_domain_type;
  }
}

export const matchPalAnyImporter: MatchImpl = { name: 'bug:match-pal-any-importer', bugOf: 'MATCH-RESTRICT', make: (k, p, d) => new PalAnyImporter(k, p, d) };
