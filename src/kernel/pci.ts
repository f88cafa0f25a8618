// The simulated PCI core: struct pci_dev / pci_bus / pci_host_bridge built
// from a topology, with the accessors drivers/pci/p2pdma.c uses
// (pci_upstream_bridge, pci_find_host_bridge, pci_dev_id, pci_domain_nr,
// the ACS control word, pci_resource_*, pci_bus_address).
import type { Device, Topology } from '../../models/pci/topology.ts';
import { isPci, isBridge } from '../../models/pci/topology.ts';
import type { AllowList } from '../../models/pci/topology.ts';
import type { Bar } from '../../models/pci/types.ts';
import { u64, type U64 } from '../../models/u64.ts';

// include/uapi/linux/pci_regs.h
export const PCI_ACS_RR = 0x0004;
export const PCI_ACS_CR = 0x0008;
export const PCI_ACS_EC = 0x0020;
export const PCI_VENDOR_ID_INTEL = 0x8086;
export const IORESOURCE_IO = 0x00000100;
export const IORESOURCE_MEM = 0x00000200;

export type PcieType = 'root-port' | 'upstream' | 'downstream' | 'pci-bridge' | 'endpoint' | 'host-bridge';

export interface PciHostBridge {
  readonly id: string;
  bus: PciBus;
}

export interface PciBus {
  readonly number: number;
  readonly domain: number;
  /** The bridge whose secondary bus this is; null for a root bus. */
  readonly self: PciDev | null;
  readonly devices: PciDev[];
  readonly host: PciHostBridge;
}

export interface PciResource {
  readonly flags: number;
  readonly start: U64;
  readonly len: U64;
  readonly busAddress: U64;
}

export interface PciDev {
  readonly name: string;
  readonly bus: PciBus;
  readonly devfn: number;
  readonly vendor: number;
  readonly device: number;
  readonly pcieType: PcieType;
  /** PCI_ACS_CTRL, or null when the device has no ACS capability. */
  readonly acsCtrl: number | null;
  readonly resources: readonly (PciResource | undefined)[];
  /** pdev->p2pdma, set by pcim_p2pdma_init (src/impl/p2pdma.ts). */
  p2pdma: unknown;
}

/** A struct device that is not a PCI device (a platform device, say). */
export interface PlainDevice {
  readonly name: string;
  readonly parent: PciDev | PlainDevice | null;
}

export type AnyDevice = { kind: 'pci'; pdev: PciDev } | { kind: 'plain'; dev: PlainDevice };

/** Root-complex device ids by allow-list status: entries of pci_p2pdma_whitelist
 *  (SkyLake-E 0x2030 with flags 0, Xeon E5 0x3c00 with REQ_SAME_HOST_BRIDGE) and
 *  one that is not listed. */
const ROOT_DEVICE_ID: Record<AllowList, number> = { any: 0x2030, 'same-host-bridge': 0x3c00, none: 0x1234 };

function pcieTypeOf(d: Device): PcieType {
  switch (d.kind) {
    case 'root-port': return 'root-port';
    case 'switch-upstream': return 'upstream';
    case 'switch-downstream': return 'downstream';
    case 'bridge': return 'pci-bridge';
    default: return 'endpoint';
  }
}

function acsCtrlOf(d: Device): number | null {
  if (!d.acs) return null;
  return (d.acs.rr ? PCI_ACS_RR : 0) | (d.acs.cr ? PCI_ACS_CR : 0) | (d.acs.ec ? PCI_ACS_EC : 0);
}

/** The resources of a function's BARs. One the PCI core could not assign (mappable false) is reset, as
 *  reset_resource() does on a failed assignment (drivers/pci/setup-bus.c): start, end and flags 0, so it
 *  is no IORESOURCE_MEM resource and pcim_p2pdma_init()/pcim_p2pdma_provider() skip it (002 v8 03/11). */
function resourcesOf(bars: readonly Bar[]): (PciResource | undefined)[] {
  const res: (PciResource | undefined)[] = [];
  for (const b of bars) {
    res[b.index] = b.mappable === false ? { flags: 0, start: 0n, len: 0n, busAddress: 0n } : { flags: b.type === 'mem' ? IORESOURCE_MEM : IORESOURCE_IO, start: b.start, len: b.size, busAddress: u64(b.start + b.busOffset) };
  }
  return res;
}

/** The simulated PCI hierarchy of one topology, enumerated depth first. */
export class PciSystem {
  readonly devices = new Map<string, PciDev>();
  readonly plain = new Map<string, PlainDevice>();
  private nextBus = new Map<number, number>();

  constructor(readonly topology: Topology) {
    topology.hostBridges.forEach((hb, domain) => {
      const host: PciHostBridge = { id: hb.id, bus: undefined as unknown as PciBus };
      host.bus = this.newBus(domain, null, host);
      // The root-complex device at 00.0, first on the root bus: what
      // pci_host_bridge_dev() looks up in the allow list.
      host.bus.devices.push({
        name: `${hb.id}:root`, bus: host.bus, devfn: 0, vendor: PCI_VENDOR_ID_INTEL, device: ROOT_DEVICE_ID[hb.allowList],
        pcieType: 'host-bridge', acsCtrl: null, resources: [], p2pdma: null,
      });
      this.enumerate(hb.id, host.bus);
    });
    for (const d of topology.devices) if (!isPci(d)) this.plainDevice(d);
  }

  private newBus(domain: number, self: PciDev | null, host: PciHostBridge): PciBus {
    const number = this.nextBus.get(domain) ?? 0;
    this.nextBus.set(domain, number + 1);
    return { number, domain, self, devices: [], host };
  }

  private enumerate(parentId: string, bus: PciBus): void {
    for (const d of this.topology.devices) {
      if (d.parent !== parentId || !isPci(d)) continue;
      const pdev: PciDev = {
        name: d.id, bus, devfn: (d.slot << 3) | d.function, vendor: 0x10de, device: 0x1000,
        pcieType: pcieTypeOf(d), acsCtrl: acsCtrlOf(d), resources: resourcesOf(d.bars), p2pdma: null,
      };
      bus.devices.push(pdev);
      this.devices.set(d.id, pdev);
      if (isBridge(d)) this.enumerate(d.id, this.newBus(bus.domain, pdev, bus.host));
    }
  }

  private plainDevice(d: Device): PlainDevice {
    const known = this.plain.get(d.id);
    if (known) return known;
    const parentDev = this.topology.devices.find((x) => x.id === d.parent)!;
    const parent = isPci(parentDev) ? this.devices.get(parentDev.id)! : this.plainDevice(parentDev);
    const dev: PlainDevice = { name: d.id, parent };
    this.plain.set(d.id, dev);
    return dev;
  }

  /** struct device * for an id: a pci_dev or a plain device. */
  device(id: string): AnyDevice | undefined {
    const pdev = this.devices.get(id);
    if (pdev) return { kind: 'pci', pdev };
    const dev = this.plain.get(id);
    return dev ? { kind: 'plain', dev } : undefined;
  }
}

export function pci_is_root_bus(bus: PciBus): boolean {
  return bus.self === null;
}

/** pci_upstream_bridge(): NULL on a root bus. */
export function pci_upstream_bridge(dev: PciDev): PciDev | null {
  return pci_is_root_bus(dev.bus) ? null : dev.bus.self;
}

export function pci_find_host_bridge(bus: PciBus): PciHostBridge {
  return bus.host;
}

export function pci_domain_nr(bus: PciBus): number {
  return bus.domain;
}

/** pci_dev_id(): bus number << 8 | devfn. */
export function pci_dev_id(dev: PciDev): number {
  return (dev.bus.number << 8) | dev.devfn;
}

export function pci_resource_flags(dev: PciDev, bar: number): number {
  return dev.resources[bar]?.flags ?? 0;
}

export function pci_resource_start(dev: PciDev, bar: number): U64 {
  return dev.resources[bar]?.start ?? 0n;
}

export function pci_resource_len(dev: PciDev, bar: number): U64 {
  return dev.resources[bar]?.len ?? 0n;
}

export function pci_bus_address(dev: PciDev, bar: number): U64 {
  return dev.resources[bar]?.busAddress ?? 0n;
}

/** The resource tree's side of one device's BARs as pci_request_selected_regions() and pci_iomap() see it
 *  (drivers/pci/pci.c, lib/pci_iomap.c): which BAR regions this driver holds, which another driver holds. */
export class PciRegions {
  private readonly held = new Set<number>();

  /** `busy`: BARs whose regions another driver already holds. */
  constructor(readonly bars: readonly Bar[], private readonly busy: readonly number[] = []) {}

  private resource(bar: number): Bar | undefined {
    const b = this.bars.find((x) => x.index === bar);
    return b && b.size !== 0n && b.mappable !== false ? b : undefined;
  }

  /** pci_request_selected_regions(pdev, 1 << bar, name): 0, or -EBUSY (-16) when the region is held
   *  (by another driver, or by this one already). A BAR without a resource claims nothing: 0. */
  request(bar: number): number {
    if (this.busy.includes(bar) || this.held.has(bar)) return -16;
    if (this.resource(bar)) this.held.add(bar);
    return 0;
  }

  /** pci_release_selected_regions(pdev, 1 << bar). */
  release(bar: number): void {
    this.held.delete(bar);
  }

  /** Whether this driver holds the BAR's region. */
  holds(bar: number): boolean {
    return this.held.has(bar);
  }

  /** pci_iomap(pdev, bar, 0): a mapping of the BAR, or null for one without a CPU address or length. */
  iomap(bar: number): string | null {
    const b = this.resource(bar);
    return b ? `${b.type}:${b.start.toString(16)}` : null;
  }
}
