// Gaps the mutation score (reports/MUTATION.md) found in the conversion ports
// (src/impl/dma-buf-mapping.ts): the conversion suite judges the v8 port with
// its documented IOVA findings in force, so a failed dma_iova_sync() or a
// refused route that is not unwound went unseen there. DMA-UNWIND on one
// range, where those findings do not apply: a failed conversion returns the
// model's errno and leaves no mapping, IOVA or allocation behind.
import { describe, expect, it } from 'vitest';
import type { MapType } from '../models/pci/types.ts';
import { dma_buf_map, dma_buf_phys_vec_to_sgt, type MappingKernel } from '../src/impl/dma-buf-mapping.ts';
import type { FaultPlan } from '../src/kernel/faults.ts';
import { Kernel } from '../src/kernel/kernel.ts';

const PAGE = 4096n;
const NONE: FaultPlan = { allocFails: [], syncFails: false, iovaRefused: false };

function mappingKernel(k: Kernel, route: MapType): MappingKernel {
  return { heap: k.heap, dma: k.dma, log: k.log, p2pdmaMapType: () => route, busAddrMap: (_p, paddr) => paddr, assertResvHeld: () => undefined };
}

describe('DMA-UNWIND of a failed conversion, both ports', () => {
  const ports = [['dma_buf_map (v8)', dma_buf_map], ['dma_buf_phys_vec_to_sgt (mainline)', dma_buf_phys_vec_to_sgt]] as const;
  const cases: [string, MapType, FaultPlan, boolean, string][] = [
    ['dma_iova_sync() fails', 'THRU_HOST_BRIDGE', { ...NONE, syncFails: true }, true, '-ENOMEM'],
    ['the IOVA state cannot be allocated', 'THRU_HOST_BRIDGE', { ...NONE, allocFails: ['state'] }, true, '-ENOMEM'],
    ['the route cannot carry P2P', 'NOT_SUPPORTED', NONE, true, '-EINVAL'],
    ['there is no provider', 'BUS_ADDR', NONE, false, '-EINVAL'],
  ];
  for (const [port, convert] of ports) {
    it.each(cases)(`${port}: %s → the errno, nothing left`, (_what, route, faults, provider, want) => {
      const k = new Kernel({ faults });
      k.heap.failAlloc = (kind) => faults.allocFails.includes(kind);
      const r = convert(mappingKernel(k, route), { dev: 'imp', dmabuf: { resv: null } }, provider ? { owner: 'vdev0', bar: 0, busOffset: 0n } : null, [{ paddr: 0x100000n, len: 2n * PAGE }], 2n * PAGE, 'DMA_BIDIRECTIONAL');
      expect(r).toEqual({ ok: false, errno: want });
      expect(k.dma.live()).toEqual({ mappings: 0, iovas: 0 });
      expect(k.heap.live().map((o) => `${o.kind} (${o.allocSite})`)).toEqual([]);
      expect(k.log.violations).toEqual([]);
    });
  }
});
