// Seeded bug (LEN-ADDR): the per-range path puts the physical address in the
// table instead of what dma_map_phys() returned. Under dma-direct the two are
// equal; through dma-iommu (iommu_dma_map_phys(): an IOVA per call) the device
// is handed addresses the IOMMU does not translate.
import type { DmaApi } from '../kernel/dma.ts';
import { kernelWith, withKernel } from './conversion-helpers.ts';

export const lenAddrPhysNotDma = withKernel('bug:len-addr-phys-not-dma', 'LEN-ADDR', (k) => kernelWith(k, {
  dma: new Proxy(k.dma, {
    get: (target, prop, receiver) => {
      // The port checks the mapping (so DMA-ERRCHECK stays quiet), then keeps using the physical address.
      if (prop === 'dma_map_phys') return (...args: Parameters<DmaApi['dma_map_phys']>) => {
        const addr = target.dma_map_phys(...args);
        return target.dma_mapping_error(addr) ? addr : args[0];
      };
      return Reflect.get(target, prop, receiver);
    },
  }),
}));
