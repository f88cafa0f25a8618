// MATCH-CONVERT: the core converters of the converter profile (004) against
// the direct path. PAL→SGT must give exactly the segments (or the errno) of
// dma_buf_phys_vec_to_sgt() on the same PAL and route, and revoke must leave
// exactly what dma_buf_free_sgt() leaves; PAL→iommu_domain must map exactly
// the PAL ranges, in order, with IOMMU_MMIO, and revoke must remove them all
// and give the PAL back.
import type { PhysVec } from '../../models/pal.ts';
import type { P2PProvider } from '../../models/pci/types.ts';
import { hex } from '../../models/u64.ts';
import { IOMMU_MMIO, IommuDomain } from '../kernel/iommu.ts';
import type { KObj } from '../kernel/objects.ts';
import { DmaBufConverters, type PalExpOps } from '../impl/converters.ts';
import { dma_buf_free_sgt, dma_buf_phys_vec_to_sgt, type Attachment, type DmaBufDma, type MappingKernel } from '../impl/dma-buf-mapping.ts';
import { ConversionKernel, type ConversionCase } from './conversion.ts';
import type { RuleId } from './registry.ts';
import type { ViolationLog } from './violation.ts';

export interface ConverterImpl {
  readonly name: string;
  readonly bugOf?: RuleId;
  make(k: MappingKernel): DmaBufConverters;
}

export const CORE_CONVERTERS: ConverterImpl = { name: 'converter:core', make: (k) => new DmaBufConverters(k) };

/** A PAL exporter: map_phys hands out a copy of its ranges (vfio_pci_dma_pal_map_phys, 000 RFC 22/26), unmap_phys frees it. */
export function palExporter(k: MappingKernel, phys: readonly PhysVec[]): PalExpOps {
  return {
    map_phys: () => {
      const pal = k.heap.alloc<readonly PhysVec[]>('pal', 'vfio_pci_dma_pal_map_phys', [...phys]);
      return pal ? { ok: true, pal } : { ok: false, errno: '-ENOMEM' };
    },
    unmap_phys: (pal) => k.heap.free(pal, 'vfio_pci_dma_pal_unmap_phys'),
  };
}

const ATTACH: Attachment = { dev: 'client', dmabuf: { resv: 'resv' } };

function segments(d: KObj<DmaBufDma>): string[] {
  return (d.value.sgt.sgl ?? []).map((s) => `${hex(s.dma_address)}+${hex(s.dma_length)}`);
}

/** What is still live on a kernel: DMA mappings, IOVA allocations and heap objects by kind. */
function residue(k: ConversionKernel): string {
  return JSON.stringify({ ...k.dma.live(), objects: k.heap.live().map((o) => o.kind).sort() });
}

function checkSgt(impl: ConverterImpl, c: ConversionCase, provider: P2PProvider, log: ViolationLog): void {
  const direct = new ConversionKernel(c);
  const d = dma_buf_phys_vec_to_sgt(direct, ATTACH, provider, c.phys, c.size, c.dir);
  const want = d.ok ? segments(d.dma) : d.errno;
  if (d.ok) dma_buf_free_sgt(direct, ATTACH, d.dma, c.dir);
  const k = new ConversionKernel(c);
  const exp = palExporter(k, c.phys);
  const conv = impl.make(k);
  const v = conv.palToSgtMap(ATTACH, () => provider, exp, c.size, c.dir);
  const got = v.ok ? segments(v.conv.dma) : v.errno;
  if (JSON.stringify(got) !== JSON.stringify(want)) log.report('MATCH-CONVERT', `PAL→SGT gave ${JSON.stringify(got)}, dma_buf_phys_vec_to_sgt gives ${JSON.stringify(want)}`, { converter: got, direct: want });
  if (v.ok) conv.palToSgtUnmap(ATTACH, exp, v.conv, c.dir);
  if (residue(k) !== residue(direct)) log.report('MATCH-CONVERT', `${v.ok ? 'after revoke' : `after a failed map (${v.errno})`} PAL→SGT leaves ${residue(k)}, the direct path leaves ${residue(direct)}`, { converter: residue(k), direct: residue(direct) });
}

function checkDomain(impl: ConverterImpl, c: ConversionCase, log: ViolationLog): void {
  const k = new ConversionKernel(c);
  const exp = palExporter(k, c.phys);
  const conv = impl.make(k);
  const domain = new IommuDomain();
  const v = conv.palToDomainMap(domain, 'importer', exp);
  if (!v.ok) return;
  const maps = domain.of('importer');
  const exact = maps.length === c.phys.length && maps.every((m, i) => m.paddr === c.phys[i]!.paddr && m.size === c.phys[i]!.len && (m.prot & IOMMU_MMIO) !== 0);
  if (!exact) log.report('MATCH-CONVERT', `PAL→iommu_domain mapped ${maps.map((m) => `${hex(m.paddr)}+${hex(m.size)}/${m.prot}`).join(', ')}, the PAL is ${c.phys.map((p) => `${hex(p.paddr)}+${hex(p.len)}`).join(', ')} with IOMMU_MMIO`, { mappings: maps.length });
  conv.palToDomainUnmap(domain, exp, v.conv);
  const left = domain.of('importer').length;
  const pals = k.heap.live('pal').length;
  if (left || pals) log.report('MATCH-CONVERT', `after revoke ${left} IOMMU mapping(s) and ${pals} PAL(s) are still live`, { mappings: left, pals });
}

/** Both converters on one conversion case. */
export function checkConvert(impl: ConverterImpl, c: ConversionCase, log: ViolationLog): void {
  const provider: P2PProvider = { owner: 'exporter', bar: 0, busOffset: c.busOffset };
  checkSgt(impl, c, provider, log);
  checkDomain(impl, c, log);
}
