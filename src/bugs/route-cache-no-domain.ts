// Seeded bug (ROUTE-MAPTYPE): map_types_idx() without the PCI domain. Two
// clients with the same bus/devfn under different host bridges share one
// cache slot, so the second query returns the first client's map type.
import type { PciDev } from '../kernel/pci.ts';
import { pci_dev_id } from '../kernel/pci.ts';
import { P2pdma } from '../impl/p2pdma.ts';

export class P2pdmaCacheNoDomain extends P2pdma {
  override map_types_idx(client: PciDev): number {
    return pci_dev_id(client);
  }
}
