// Building blocks for the seeded conversion bugs: the mainline port with one
// helper swapped, or run on a kernel with one service changed.
import type { PhysVec } from '../../models/pal.ts';
import type { P2PProvider } from '../../models/pci/types.ts';
import type { U64 } from '../../models/u64.ts';
import type { DmaApi, DmaDir } from '../kernel/dma.ts';
import type { KObj } from '../kernel/objects.ts';
import { MAINLINE_OPS, dma_buf_free_sgt, dma_buf_phys_vec_to_sgt, type Attachment, type DmaBufDma, type MainlineOps, type MappingKernel } from '../impl/dma-buf-mapping.ts';
import type { ConversionImpl } from '../rules/conversion.ts';
import type { RuleId } from '../rules/registry.ts';

/** The mainline port with some of its helpers replaced. */
export function withOps(name: string, bugOf: RuleId, ops: Partial<MainlineOps>): ConversionImpl {
  const all: MainlineOps = { ...MAINLINE_OPS, ...ops };
  return {
    name, bugOf, limit: 'page-aligned',
    map: (k, a, p, phys, size, dir) => dma_buf_phys_vec_to_sgt(k, a, p, phys, size, dir, all),
    unmap: (k, a, d, dir) => dma_buf_free_sgt(k, a, d, dir, all),
  };
}

/** The mainline port on a kernel whose services `wrap` changes. */
export function withKernel(name: string, bugOf: RuleId, wrap: (k: MappingKernel) => MappingKernel): ConversionImpl {
  return {
    name, bugOf, limit: 'page-aligned',
    map: (k: MappingKernel, a: Attachment, p: P2PProvider, phys: readonly PhysVec[], size: U64, dir: DmaDir) => dma_buf_phys_vec_to_sgt(wrap(k), a, p, phys, size, dir),
    unmap: (k: MappingKernel, a: Attachment, d: KObj<DmaBufDma>, dir: DmaDir) => dma_buf_free_sgt(wrap(k), a, d, dir),
  };
}

/** The services of `k`, with some replaced. */
export function kernelWith(k: MappingKernel, parts: Partial<MappingKernel>): MappingKernel {
  return {
    heap: k.heap, dma: k.dma, log: k.log,
    p2pdmaMapType: (p, d) => k.p2pdmaMapType(p, d),
    busAddrMap: (p, a) => k.busAddrMap(p, a),
    assertResvHeld: (r, s) => k.assertResvHeld(r, s),
    ...parts,
  };
}

/** The mainline port on a DMA API with some calls replaced. */
export function withDma(name: string, bugOf: RuleId, overrides: Partial<Record<keyof DmaApi, unknown>>): ConversionImpl {
  return withKernel(name, bugOf, (k) => kernelWith(k, {
    dma: new Proxy(k.dma, { get: (target, prop, receiver) => (prop in overrides ? overrides[prop as keyof DmaApi] : Reflect.get(target, prop, receiver)) }),
  }));
}
