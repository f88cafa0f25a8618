// Port of drivers/pci/p2pdma.c routing as in torvalds/linux early 2026
// (v6.19 with 002 v8 01-04/11 applied: pcim_p2pdma_init,
// pcim_p2pdma_provider, pci_p2pdma_map_type(provider, dev),
// pci_p2pdma_bus_addr_map(provider, paddr)). Structure and names follow the
// C; each method is one kernel function so a seeded bug replaces just one.
// No commit is cited: the stored torvalds/linux copies of p2pdma.c are
// 2019-era (3306e99e, 02917e9f: upstream_bridge_distance(), before the
// map-type cache); the port is of the post-v6.19 file as 002 patches it.
import type { MapType } from '../../models/pci/types.ts';
import { PCI_STD_NUM_BARS } from '../../models/pci/types.ts';
import { u64, type DmaAddr, type PhysAddr, type U64 } from '../../models/u64.ts';
import {
  IORESOURCE_MEM, PCI_ACS_CR, PCI_ACS_EC, PCI_ACS_RR, PCI_VENDOR_ID_INTEL, pci_bus_address, pci_dev_id, pci_domain_nr,
  pci_find_host_bridge, pci_resource_flags, pci_resource_start, pci_upstream_bridge,
  type AnyDevice, type PciDev, type PciHostBridge, type PlainDevice,
} from '../kernel/pci.ts';

/** struct p2pdma_provider (include/linux/pci-p2pdma.h, 002 v8 03/11). */
export interface P2pdmaProvider {
  owner: PciDev | null;
  bus_offset: U64;
}

/** struct pci_p2pdma: the per-BAR providers and the map-type cache. */
export interface PciP2pdma {
  readonly map_types: Map<number, MapType>;
  readonly mem: P2pdmaProvider[];
}

const REQ_SAME_HOST_BRIDGE = 1 << 0;

/** pci_p2pdma_whitelist (abridged to one entry per flag value, plus Xeon E5). */
const pci_p2pdma_whitelist: readonly { vendor: number; device: number; flags: number }[] = [
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x3c00, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x3c01, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2f00, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2f01, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2020, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x09a2, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2030, flags: 0 },
];

export interface Cpuinfo {
  readonly vendor: 'amd' | 'intel' | 'other';
  readonly family: number;
}

export class P2pdma {
  /** Every acs_list a calc_map_type_and_dist() built, last one kept (for `route`). */
  lastAcsList: string[] = [];

  constructor(readonly cpu: Cpuinfo) {}

  /** Ports with an ACS redirect bit: the early-2026 rule. */
  pci_bridge_has_acs_redir(pdev: PciDev): boolean {
    if (pdev.acsCtrl === null) return false;
    return (pdev.acsCtrl & (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)) !== 0;
  }

  cpu_supports_p2pdma(): boolean {
    // Any AMD CPU whose family ID is Zen or newer supports p2pdma
    return this.cpu.vendor === 'amd' && this.cpu.family >= 0x17;
  }

  /** pci_host_bridge_dev(): the first device on the root bus if it is 00.0 or a root port. */
  pci_host_bridge_dev(host: PciHostBridge): PciDev | null {
    const root = host.bus.devices[0];
    if (!root) return null;
    if (root.devfn === 0) return root;
    if (root.pcieType === 'root-port') return root;
    return null;
  }

  __host_bridge_whitelist(host: PciHostBridge, same_host_bridge: boolean): boolean {
    const root = this.pci_host_bridge_dev(host);
    if (!root) return false;
    for (const entry of pci_p2pdma_whitelist) {
      if (root.vendor !== entry.vendor || root.device !== entry.device) continue;
      if (entry.flags & REQ_SAME_HOST_BRIDGE && !same_host_bridge) return false;
      return true;
    }
    return false;
  }

  host_bridge_whitelist(a: PciDev, b: PciDev): boolean {
    const host_a = pci_find_host_bridge(a.bus);
    const host_b = pci_find_host_bridge(b.bus);
    if (host_a === host_b) return this.__host_bridge_whitelist(host_a, true);
    if (this.__host_bridge_whitelist(host_a, false) && this.__host_bridge_whitelist(host_b, false)) return true;
    return false;
  }

  map_types_idx(client: PciDev): number {
    return (pci_domain_nr(client.bus) << 16) | pci_dev_id(client);
  }

  calc_map_type_and_dist(provider: PciDev, client: PciDev): { mapType: MapType; dist: number } {
    let map_type: MapType = 'THRU_HOST_BRIDGE';
    let a: PciDev | null = provider;
    const b = client;
    let bb: PciDev | null;
    const acs_list: string[] = [];
    let acs_cnt = 0;
    let dist_a = 0;
    let dist_b = 0;
    let dist: number;

    found: {
      while (a) {
        dist_b = 0;
        if (this.pci_bridge_has_acs_redir(a)) {
          acs_list.push(a.name);
          acs_cnt++;
        }
        bb = b;
        while (bb) {
          if (a === bb) break found; // goto check_b_path_acs
          bb = pci_upstream_bridge(bb);
          dist_b++;
        }
        a = pci_upstream_bridge(a);
        dist_a++;
      }
      dist = dist_a + dist_b;
      return this.map_through_host_bridge(provider, client, map_type, dist, acs_list);
    }

    // check_b_path_acs:
    bb = b;
    while (bb) {
      if (a === bb) break;
      if (this.pci_bridge_has_acs_redir(bb)) {
        acs_list.push(bb.name);
        acs_cnt++;
      }
      bb = pci_upstream_bridge(bb);
    }
    dist = dist_a + dist_b;
    if (!acs_cnt) {
      map_type = 'BUS_ADDR';
      return this.done(provider, client, map_type, dist, acs_list);
    }
    return this.map_through_host_bridge(provider, client, map_type, dist, acs_list);
  }

  /** The map_through_host_bridge: label of calc_map_type_and_dist. */
  protected map_through_host_bridge(provider: PciDev, client: PciDev, map_type: MapType, dist: number, acs_list: string[]) {
    if (!this.cpu_supports_p2pdma() && !this.host_bridge_whitelist(provider, client)) map_type = 'NOT_SUPPORTED';
    return this.done(provider, client, map_type, dist, acs_list);
  }

  /** The done: label: cache the result in the provider's map_types. */
  protected done(provider: PciDev, client: PciDev, map_type: MapType, dist: number, acs_list: string[]) {
    const p2pdma = provider.p2pdma as PciP2pdma | null;
    if (p2pdma) p2pdma.map_types.set(this.map_types_idx(client), map_type);
    this.lastAcsList = acs_list;
    return { mapType: map_type, dist };
  }

  /** find_parent_pci_dev(). */
  find_parent_pci_dev(dev: AnyDevice): PciDev | null {
    if (dev.kind === 'pci') return dev.pdev;
    let cur: PciDev | PlainDevice | null = dev.dev.parent;
    while (cur && !('bus' in cur)) cur = cur.parent;
    return cur;
  }

  pci_p2pdma_distance_many(provider: PciDev, clients: readonly AnyDevice[]): number {
    let not_supported = false;
    let total_dist = 0;
    if (clients.length === 0) return -1;
    for (const c of clients) {
      const pci_client = this.find_parent_pci_dev(c);
      if (!pci_client) return -1;
      const { mapType, dist } = this.calc_map_type_and_dist(provider, pci_client);
      if (mapType === 'NOT_SUPPORTED') not_supported = true;
      if (not_supported) break; // !verbose
      total_dist += dist;
    }
    if (not_supported) return -1;
    return total_dist;
  }

  /** pcim_p2pdma_init(): one provider per MEM BAR (002 v8 03/11). */
  pcim_p2pdma_init(pdev: PciDev): number {
    if (pdev.p2pdma) return 0;
    const p2p: PciP2pdma = { map_types: new Map(), mem: [] };
    for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
      p2p.mem[i] = { owner: null, bus_offset: 0n };
      if (!(pci_resource_flags(pdev, i) & IORESOURCE_MEM)) continue;
      p2p.mem[i] = { owner: pdev, bus_offset: u64(pci_bus_address(pdev, i) - pci_resource_start(pdev, i)) };
    }
    pdev.p2pdma = p2p;
    return 0;
  }

  /** pcim_p2pdma_provider(): NULL for non-MEM BARs or before init. */
  pcim_p2pdma_provider(pdev: PciDev, bar: number): P2pdmaProvider | null {
    if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM)) return null;
    const p2p = pdev.p2pdma as PciP2pdma | null;
    if (!p2p) return null; // WARN_ON: someone forgot pcim_p2pdma_init()
    return p2p.mem[bar] ?? null;
  }

  /** pci_p2pdma_map_type(provider, dev) (002 v8 04/11). */
  pci_p2pdma_map_type(provider: P2pdmaProvider, dev: AnyDevice): MapType {
    const pdev = provider.owner;
    if (!pdev || !pdev.p2pdma) return 'NOT_SUPPORTED';
    if (dev.kind !== 'pci') return 'NOT_SUPPORTED';
    const client = dev.pdev;
    const p2pdma = pdev.p2pdma as PciP2pdma;
    const type = p2pdma.map_types.get(this.map_types_idx(client)) ?? 'UNKNOWN';
    if (type === 'UNKNOWN') return this.calc_map_type_and_dist(pdev, client).mapType;
    return type;
  }

  /** pci_p2pdma_bus_addr_map() (002 v8 02/11). */
  pci_p2pdma_bus_addr_map(provider: P2pdmaProvider, paddr: PhysAddr): DmaAddr {
    return u64(paddr + provider.bus_offset);
  }
}
