// Seeded bug (ROUTE-MAPTYPE): calc_map_type_and_dist() testing the
// provider-side ACS bits only after looking for the client (so the common
// bridge's own ACS bits are never counted). A switch whose upstream port
// alone redirects then gives BUS_ADDR instead of the host bridge.
import { pci_upstream_bridge, type PciDev } from '../kernel/pci.ts';
import { P2pdma } from '../impl/p2pdma.ts';
import type { MapType } from '../../models/pci/types.ts';

export class P2pdmaProviderAcsExclusive extends P2pdma {
  override calc_map_type_and_dist(provider: PciDev, client: PciDev): { mapType: MapType; dist: number } {
    let a: PciDev | null = provider;
    let bb: PciDev | null;
    const acs_list: string[] = [];
    let acs_cnt = 0;
    let dist_a = 0;
    let dist_b = 0;
    found: {
      while (a) {
        dist_b = 0;
        for (bb = client; bb; bb = pci_upstream_bridge(bb), dist_b++) if (a === bb) break found;
        // BUG: ACS of `a` tested after the search, so the common bridge is skipped.
        if (this.pci_bridge_has_acs_redir(a)) { acs_list.push(a.name); acs_cnt++; }
        a = pci_upstream_bridge(a);
        dist_a++;
      }
      return this.map_through_host_bridge(provider, client, 'THRU_HOST_BRIDGE', dist_a + dist_b, acs_list);
    }
    for (bb = client; bb && a !== bb; bb = pci_upstream_bridge(bb)) {
      if (this.pci_bridge_has_acs_redir(bb)) { acs_list.push(bb.name); acs_cnt++; }
    }
    if (!acs_cnt) return this.done(provider, client, 'BUS_ADDR', dist_a + dist_b, acs_list);
    return this.map_through_host_bridge(provider, client, 'THRU_HOST_BRIDGE', dist_a + dist_b, acs_list);
  }
}
