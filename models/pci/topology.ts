// A PCI topology as the p2pdma code sees it: host bridges, the pci_devs
// below them (root ports, switch ports, bridges, endpoint functions) and
// non-PCI devices hanging off them. Mirrors the structures that
// drivers/pci/p2pdma.c walks (pci_upstream_bridge, pci_find_host_bridge).
import type { Bar } from './types.ts';

/** Host-bridge allow-list status (pci_p2pdma_whitelist in drivers/pci/p2pdma.c):
 *  'none' = root device not listed, 'any' = listed with flags 0,
 *  'same-host-bridge' = listed with REQ_SAME_HOST_BRIDGE. */
export type AllowList = 'none' | 'any' | 'same-host-bridge';
export const ALLOW_LISTS: readonly AllowList[] = ['none', 'any', 'same-host-bridge'];

export type DeviceKind = 'root-port' | 'switch-upstream' | 'switch-downstream' | 'bridge' | 'endpoint' | 'platform';
export const DEVICE_KINDS: readonly DeviceKind[] = ['root-port', 'switch-upstream', 'switch-downstream', 'bridge', 'endpoint', 'platform'];

/** The ACS Control register (PCI_ACS_CTRL, include/uapi/linux/pci_regs.h):
 *  every bit a routing rule reads. RR, CR and EC redirect or block P2P; UF,
 *  SV, TB and DT are carried so a variant (and the picture) can show them. */
export interface Acs {
  /** Request Redirect. */
  readonly rr: boolean;
  /** Completion Redirect. */
  readonly cr: boolean;
  /** Egress Control. */
  readonly ec: boolean;
  /** Upstream Forwarding. */
  readonly uf?: boolean;
  /** Source Validation. */
  readonly sv?: boolean;
  /** Translation Blocking (translated requests only). */
  readonly tb?: boolean;
  /** Direct Translated P2P (translated requests only). */
  readonly dt?: boolean;
  /** The control register could not be read (pci_read_config_word failed). */
  readonly unreadable?: boolean;
  /** Egress Control Vector: ids of the sibling ports this port's egress is
   *  blocked to. Absent while EC is set: the vector is not known. */
  readonly egressBlocked?: readonly string[];
}

export interface HostBridge {
  readonly id: string;
  /** The allow-list verdict for this host bridge's root device. A file may
   *  state it (abstract topologies); when the root bus lists devices with
   *  their IDs, the loader derives it from the kernel's table
   *  (models/pci/allowlist.ts) and `rootBus` says so. */
  readonly allowList: AllowList;
  /** The verdict came from the root-bus devices, looked up as the kernel does. */
  readonly rootBus?: boolean;
}

export interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  /** A host bridge id (device on the root bus) or the id of a bridge-kind device. */
  readonly parent: string;
  /** Device (slot) and function numbers on the parent bus: devfn = slot << 3 | function. */
  readonly slot: number;
  readonly function: number;
  /** ACS capability control bits; absent = no ACS capability. */
  readonly acs?: Acs;
  readonly bars: readonly Bar[];
  /** pcim_p2pdma_init() was called (the driver set up p2pdma providers). */
  readonly p2pdma: boolean;
  /** Vendor and device ID as lspci -nn prints them ("8086:2030"); what the
   *  host-bridge allow list matches on a root-bus device. */
  readonly pciId?: string;
  /** Class code ("0600" host bridge, "0604" PCI bridge, "0108" NVMe, ...). */
  readonly pciClass?: string;
  /** A name for people: the BDF or lspci's description. */
  readonly label?: string;
}

/** A fact the topology's source did not state. Its concrete field holds a
 *  placeholder (no ACS, CPU 'other', allow list 'none'); commands answer
 *  for each possibility (src/topology/cases.ts), never for the placeholder alone. */
export type UnknownFact =
  | { readonly fact: 'acs'; readonly device: string; readonly why: string }
  | { readonly fact: 'cpu'; readonly why: string }
  | { readonly fact: 'root-device'; readonly hostBridge: string; readonly why: string };

export interface Cpu {
  readonly vendor: 'amd' | 'intel' | 'other';
  readonly family: number;
}

export interface Topology {
  readonly cpu: Cpu;
  readonly hostBridges: readonly HostBridge[];
  readonly devices: readonly Device[];
  /** What the source did not say (absent: everything is known). */
  readonly unknown?: readonly UnknownFact[];
}

export const BRIDGE_KINDS: readonly DeviceKind[] = ['root-port', 'switch-upstream', 'switch-downstream', 'bridge'];

export function isBridge(d: Device): boolean {
  return BRIDGE_KINDS.includes(d.kind);
}

export function isPci(d: Device): boolean {
  return d.kind !== 'platform';
}

/** Index of a topology by id. */
export class TopologyIndex {
  readonly devices = new Map<string, Device>();
  readonly hostBridges = new Map<string, HostBridge>();

  constructor(readonly topology: Topology) {
    for (const hb of topology.hostBridges) this.hostBridges.set(hb.id, hb);
    for (const d of topology.devices) this.devices.set(d.id, d);
  }

  device(id: string): Device | undefined {
    return this.devices.get(id);
  }

  /** pci_upstream_bridge(): the parent bridge, or undefined on a root bus. */
  upstreamBridge(d: Device): Device | undefined {
    return this.devices.get(d.parent);
  }

  /** pci_find_host_bridge(dev->bus). */
  hostBridge(d: Device): HostBridge {
    let cur = d;
    for (let up = this.upstreamBridge(cur); up; up = this.upstreamBridge(cur)) cur = up;
    return this.hostBridges.get(cur.parent)!;
  }

  /** The device itself, then each upstream bridge up to the root bus. */
  chain(d: Device): Device[] {
    const out: Device[] = [];
    for (let cur: Device | undefined = d; cur; cur = this.upstreamBridge(cur)) out.push(cur);
    return out;
  }

  /** find_parent_pci_dev(): a non-PCI device resolves to its PCI parent. */
  pciParent(d: Device): Device | undefined {
    let cur: Device | undefined = d;
    while (cur && !isPci(cur)) cur = this.devices.get(cur.parent);
    return cur;
  }
}
