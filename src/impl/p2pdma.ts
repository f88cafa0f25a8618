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
const PCI_VENDOR_ID_GOOGLE = 0x1ae0;
const PCI_VENDOR_ID_NVIDIA = 0x10de;
const PCI_VENDOR_ID_ZHAOXIN = 0x1d17;
const PCI_ANY_ID = 0xffff;

/** pci_p2pdma_whitelist as in the PCI tree (kernelorg-mirror/linux_kernel_git_pci_pci
 *  drivers/pci/p2pdma.c at cd2698d76c31; earlier commits cited in models/pci/allowlist.ts):
 *  Xeon E5/E7 same-host-bridge, Sky Lake-E, Ice Lake-SP, the Intel DSA/IAX/IAA/QAT
 *  devices, Google's any-device entry, NVIDIA CPUs, Zhaoxin (same host bridge but 1008). */
const pci_p2pdma_whitelist: readonly { vendor: number; device: number; flags: number }[] = [
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x3c00, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x3c01, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2f00, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2f01, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2030, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2031, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2032, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2033, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2020, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x09a2, flags: 0 },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x0b25, flags: 0 }, // PCI_DEVICE_ID_INTEL_DSA_SPR0
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x0cfe, flags: 0 }, // PCI_DEVICE_ID_INTEL_IAX_SPR0
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x11fb, flags: 0 }, // PCI_DEVICE_ID_INTEL_DSA_GNRD
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x1212, flags: 0 }, // PCI_DEVICE_ID_INTEL_DSA_DMR
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x1216, flags: 0 }, // PCI_DEVICE_ID_INTEL_IAA_DMR
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x4940, flags: 0 }, // PCI_DEVICE_ID_INTEL_QAT_4XXX
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x4942, flags: 0 }, // PCI_DEVICE_ID_INTEL_QAT_401XX
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x4944, flags: 0 }, // PCI_DEVICE_ID_INTEL_QAT_402XX
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x4946, flags: 0 }, // PCI_DEVICE_ID_INTEL_QAT_420XX
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x4948, flags: 0 }, // PCI_DEVICE_ID_INTEL_QAT_6XXX
  { vendor: PCI_VENDOR_ID_GOOGLE, device: PCI_ANY_ID, flags: 0 },
  { vendor: PCI_VENDOR_ID_NVIDIA, device: 0x2f95, flags: 0 },
  { vendor: PCI_VENDOR_ID_NVIDIA, device: 0x2f96, flags: 0 },
  { vendor: PCI_VENDOR_ID_NVIDIA, device: 0x2f97, flags: 0 },
  { vendor: PCI_VENDOR_ID_NVIDIA, device: 0x2f98, flags: 0 },
  { vendor: PCI_VENDOR_ID_ZHAOXIN, device: 0x1003, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_ZHAOXIN, device: 0x1005, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_ZHAOXIN, device: 0x1006, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_ZHAOXIN, device: 0x1007, flags: REQ_SAME_HOST_BRIDGE },
  { vendor: PCI_VENDOR_ID_ZHAOXIN, device: 0x1008, flags: 0 },
];

export interface Cpuinfo {
  readonly vendor: 'amd' | 'intel' | 'other';
  readonly family: number;
}

/** What config space says of a port's ACS beyond the control word the
 *  simulated pci_dev carries: a failed read, and the Egress Control Vector. */
export interface AcsConfig {
  readonly unreadable?: boolean;
  /** Names of the ports egress is blocked to; absent: the vector cannot be read. */
  readonly egressBlocked?: readonly string[];
}

export class P2pdma {
  /** Every acs_list a calc_map_type_and_dist() built, last one kept (for `route`). */
  lastAcsList: string[] = [];
  /** Config-space facts per port name (set by the bench from the topology). */
  acsConfig = new Map<string, AcsConfig>();

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
      if (root.vendor !== entry.vendor) continue;
      if (entry.device !== PCI_ANY_ID && root.device !== entry.device) continue;
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

/** The divergence proposal's calc_map_type_and_dist() (linux-pci, 2025-26):
 *  each ACS port on both paths decides by pci_acs_p2pdma_state(); the two
 *  ports just below the common bridge decide with the other side's port as
 *  egress target; an unreadable control word blocks the direct path. */
export class P2pdmaDivergence extends P2pdma {
  /** pci_acs_p2pdma_state(): 'direct', 'redirect' or 'blocked'. */
  pci_acs_p2pdma_state(pdev: PciDev, target: PciDev | null): 'direct' | 'redirect' | 'blocked' {
    if (pdev.acsCtrl === null) return 'direct';
    const cfg = this.acsConfig.get(pdev.name);
    if (cfg?.unreadable) return 'blocked';
    const ctrl = pdev.acsCtrl;
    if (!target || !(ctrl & PCI_ACS_EC)) return ctrl & (PCI_ACS_RR | PCI_ACS_CR) ? 'redirect' : 'direct';
    if (!cfg?.egressBlocked) return 'blocked'; // the vector bit could not be read
    if (cfg.egressBlocked.includes(target.name)) return ctrl & PCI_ACS_RR ? 'redirect' : 'blocked';
    return ctrl & PCI_ACS_CR ? 'redirect' : 'direct';
  }

  override calc_map_type_and_dist(provider: PciDev, client: PciDev): { mapType: MapType; dist: number } {
    let a: PciDev | null = provider;
    let a_child: PciDev | null = null;
    let b_child: PciDev | null = null;
    let dist_a = 0;
    let dist_b = 0;
    let no_common = true;
    outer: while (a) {
      dist_b = 0;
      b_child = null;
      for (let bb: PciDev | null = client; bb; bb = pci_upstream_bridge(bb)) {
        if (a === bb) {
          no_common = false;
          break outer;
        }
        b_child = bb;
        dist_b++;
      }
      a_child = a;
      a = pci_upstream_bridge(a);
      dist_a++;
    }
    const acs_list: string[] = [];
    let not_direct = 0;
    const ask = (bb: PciDev, target: PciDev | null) => {
      if (this.pci_acs_p2pdma_state(bb, target) === 'direct') return;
      acs_list.push(bb.name);
      not_direct++;
    };
    for (let bb: PciDev | null = provider; bb; bb = pci_upstream_bridge(bb)) {
      ask(bb, bb === a_child ? b_child : null);
      if (a === bb) break;
    }
    for (let bb: PciDev | null = client; bb && a !== bb; bb = pci_upstream_bridge(bb)) ask(bb, bb === b_child ? a_child : null);
    const dist = dist_a + dist_b;
    if (!not_direct && !no_common) return this.done(provider, client, 'BUS_ADDR', dist, acs_list);
    return this.map_through_host_bridge(provider, client, 'THRU_HOST_BRIDGE', dist, acs_list);
  }
}
