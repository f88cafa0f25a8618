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

/** PCI_ACS_CTRL redirect bits: Request Redirect, Completion Redirect, Egress Control. */
export interface Acs {
  readonly rr: boolean;
  readonly cr: boolean;
  readonly ec: boolean;
}

export interface HostBridge {
  readonly id: string;
  readonly allowList: AllowList;
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
}

export interface Cpu {
  readonly vendor: 'amd' | 'intel' | 'other';
  readonly family: number;
}

export interface Topology {
  readonly cpu: Cpu;
  readonly hostBridges: readonly HostBridge[];
  readonly devices: readonly Device[];
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
