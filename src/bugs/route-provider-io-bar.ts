// Seeded bug (ROUTE-PROVIDER): pcim_p2pdma_provider() hands out a provider
// for an I/O-port BAR (the IORESOURCE_MEM check dropped), so a dma-buf could
// be exported for port I/O space.
import type { PciDev } from '../kernel/pci.ts';
import { pci_bus_address, pci_resource_flags, pci_resource_start } from '../kernel/pci.ts';
import { u64 } from '../../models/u64.ts';
import { P2pdma, type P2pdmaProvider, type PciP2pdma } from '../impl/p2pdma.ts';

export class P2pdmaProviderIoBar extends P2pdma {
  override pcim_p2pdma_provider(pdev: PciDev, bar: number): P2pdmaProvider | null {
    const p2p = pdev.p2pdma as PciP2pdma | null;
    if (!p2p || !pci_resource_flags(pdev, bar)) return null;
    return { owner: pdev, bus_offset: u64(pci_bus_address(pdev, bar) - pci_resource_start(pdev, bar)) };
  }
}
