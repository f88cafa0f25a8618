// Seeded bug (ROUTE-DIST): calc_map_type_and_dist() without `dist_b = 0`
// at the top of the provider-side loop: every provider step adds the whole
// client path again. Same function and same-bus pairs still look right.
import { pci_upstream_bridge, type PciDev } from '../kernel/pci.ts';
import { P2pdma } from '../impl/p2pdma.ts';
import type { MapType } from '../../models/pci/types.ts';

export class P2pdmaDistNoReset extends P2pdma {
  override calc_map_type_and_dist(provider: PciDev, client: PciDev): { mapType: MapType; dist: number } {
    let a: PciDev | null = provider;
    let bb: PciDev | null;
    const acs_list: string[] = [];
    let acs_cnt = 0;
    let dist_a = 0;
    let dist_b = 0; // BUG: never reset inside the loop
    found: {
      while (a) {
        if (this.pci_bridge_has_acs_redir(a)) { acs_list.push(a.name); acs_cnt++; }
        for (bb = client; bb; bb = pci_upstream_bridge(bb), dist_b++) if (a === bb) break found;
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
