// The machine the simulated kernel pretends to be, chosen once per run
// (`run --iommu`, `--dma-map`; by default derived from the seed) and recorded
// in the report and in every counterexample, so a replay runs on the same one.
//
// IOMMU flavour: what the page-table code does when asked to map an IOVA that
// is already mapped (dma_iova_link() -> iommu_map() in drivers/iommu/dma-iommu.c):
// - refuse: ARM io-pgtable (drivers/iommu/io-pgtable-arm.c, torvalds/linux
//   f8d80575434c, arm_lpae_init_pte(): "We require an unmap first", WARN and
//   -EEXIST); iommu_map() then unmaps what it mapped of the call, and the link fails.
// - keep: Intel VT-d (drivers/iommu/intel/iommu.c, __domain_mapping(): a PTE
//   already set is reported "DMA PTE for vPFN ... already set" with a WARN and
//   left as it was); the call succeeds, the old translation stays.
// - overwrite: a page table that replaces the entry (what this simulator did
//   before issue 13): the new translation wins.
// dma_map_phys() path: `direct` (dma-direct, no IOMMU: the DMA address is the
// physical one) or `iommu` (drivers/iommu/dma-iommu.c iommu_dma_map_phys():
// one IOVA allocated and mapped per call, freed by the unmap).

export const IOMMU_FLAVOURS = ['refuse', 'keep', 'overwrite'] as const;
export type IommuFlavour = (typeof IOMMU_FLAVOURS)[number];
export const DMA_MAP_PATHS = ['direct', 'iommu'] as const;
export type DmaMapPath = (typeof DMA_MAP_PATHS)[number];

/** The simulated machine of one run. */
export interface Platform {
  readonly iommu: IommuFlavour;
  readonly dmaMap: DmaMapPath;
}

/** How a run that pins no machine describes itself: each case draws one. */
export const EVERY_MACHINE = 'every machine: each case draws an IOMMU flavour and a dma_map_phys path (--iommu/--dma-map pin one)';

/** What a kernel built without a platform is: the simulator before issue 13 (tests that name none). */
export const DEFAULT_PLATFORM: Platform = { iommu: 'overwrite', dmaMap: 'direct' };

export function isIommuFlavour(s: string): s is IommuFlavour {
  return (IOMMU_FLAVOURS as readonly string[]).includes(s);
}

export function isDmaMapPath(s: string): s is DmaMapPath {
  return (DMA_MAP_PATHS as readonly string[]).includes(s);
}

/** `--iommu random` / `--dma-map random` (the default): one choice per run, a pure function of the seed. */
export function platformOfSeed(seed: number): Platform {
  // splitmix-style scramble: neighbouring seeds pick different machines.
  let x = (seed ^ 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return { iommu: IOMMU_FLAVOURS[x % 3]!, dmaMap: DMA_MAP_PATHS[(x >>> 8) % 2]! };
}

/** The platform a counterexample's input names (older inputs name none: the default). */
export function platformOf(input: { readonly platform?: Platform } | undefined): Platform {
  return input?.platform ?? DEFAULT_PLATFORM;
}

/** One line for the text and HTML reports. */
export function describePlatform(p: Platform): string {
  const iommu = { refuse: 'refuses a link onto a mapped IOVA (-EEXIST, ARM io-pgtable)', keep: 'keeps the old entry and WARNs (VT-d)', overwrite: 'overwrites the old entry' }[p.iommu];
  return `IOMMU ${p.iommu} (${iommu}); dma_map_phys ${p.dmaMap === 'iommu' ? 'through dma-iommu (an IOVA per call)' : 'dma-direct (DMA address = physical)'}`;
}
