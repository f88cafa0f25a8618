// Seeded bug (ROUTE-BUSADDR): pci_p2pdma_bus_addr_map() subtracts the bus
// offset (confusing bus → CPU with CPU → bus). Invisible on the many
// machines where bus_offset is 0.
import type { DmaAddr, PhysAddr } from '../../models/u64.ts';
import { u64 } from '../../models/u64.ts';
import { P2pdma, type P2pdmaProvider } from '../impl/p2pdma.ts';

export class P2pdmaBusAddrSign extends P2pdma {
  override pci_p2pdma_bus_addr_map(provider: P2pdmaProvider, paddr: PhysAddr): DmaAddr {
    return u64(paddr - provider.bus_offset);
  }
}
