// Seeded bug (ROUTE-DIST): pci_p2pdma_distance_many() with `total_dist = dist`
// for `total_dist += dist`: a list of clients is worth its last client's
// distance, not the sum (drivers/pci/p2pdma.c, "the cumulative distance").
// No client and one client still look right; only a list of two or more tells.
import { P2pdma } from '../impl/p2pdma.ts';
import type { AnyDevice, PciDev } from '../kernel/pci.ts';

export class P2pdmaDistManyLast extends P2pdma {
  override pci_p2pdma_distance_many(provider: PciDev, clients: readonly AnyDevice[]): number {
    let not_supported = false;
    let total_dist = 0;
    if (clients.length === 0) return -1;
    for (const c of clients) {
      const pci_client = this.find_parent_pci_dev(c);
      if (!pci_client) return -1;
      const { mapType, dist } = this.calc_map_type_and_dist(provider, pci_client);
      if (mapType === 'NOT_SUPPORTED') not_supported = true;
      if (not_supported) break;
      total_dist = dist; // BUG: += dropped
    }
    if (not_supported) return -1;
    return total_dist;
  }
}
