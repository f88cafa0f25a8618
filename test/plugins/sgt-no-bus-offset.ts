// A user's one-line bug in the conversion helper: on BUS_ADDR the DMA address
// is the physical address, not pci_p2pdma_bus_addr_map()'s paddr + bus_offset.
// Expected: ROUTE-BUSADDR. Smallest: one range, bus offset 4096.
import { MAINLINE_PHYS_VEC_TO_SGT, type ConversionPlugin } from 'dmabuf-conform';

const plugin: ConversionPlugin = {
  kind: 'conversion', name: 'user-sgt-no-bus-offset', description: 'dma_buf_phys_vec_to_sgt ignoring the bus offset', profiles: ['rfc', 'converter'], limit: 'page-aligned',
  map: (k, attach, provider, phys, size, dir) => MAINLINE_PHYS_VEC_TO_SGT.map(k, attach, provider && { ...provider, busOffset: 0n }, phys, size, dir), // BUG
  unmap: (k, attach, dma, dir) => MAINLINE_PHYS_VEC_TO_SGT.unmap(k, attach, dma, dir),
};
export default plugin;
