// The host-bridge allow list of drivers/pci/p2pdma.c (pci_p2pdma_whitelist[]
// with pci_host_bridge_dev() and __host_bridge_whitelist()), restated from
// the PCI tree (kernelorg-mirror/linux_kernel_git_pci_pci drivers/pci/p2pdma.c
// at cd2698d76c31). Earlier sources, all in torvalds/linux: feaea1fe8b36
// "PCI/P2PDMA: Add Intel 3rd Gen Intel Xeon Scalable Processors to
// whitelist" (8086:09a2), 7b94b53db34f (Sky Lake-E root ports B, C, D:
// 8086:2031-2033), 1af7c26c59eb "PCI/P2PDMA: Whitelist Intel Skylake-E Root
// Ports at any devfn" (the first-device lookup below). Until issue 12 this
// table stopped at Google's entry: the route unit, compiled from that file,
// answered THRU_HOST_BRIDGE on the Intel accelerator, NVIDIA and Zhaoxin root
// buses where the model said NOT_SUPPORTED. Device ids as include/linux/pci_ids.h.
import type { Device, HostBridge, AllowList, Topology } from './topology.ts';
import { isPci } from './topology.ts';

export const PCI_VENDOR_ID_INTEL = 0x8086;
export const PCI_VENDOR_ID_GOOGLE = 0x1ae0;
export const PCI_VENDOR_ID_NVIDIA = 0x10de;
export const PCI_VENDOR_ID_ZHAOXIN = 0x1d17;
/** PCI_ANY_ID: an entry that matches every device of its vendor. */
export const PCI_ANY_ID = -1;

export interface AllowEntry {
  readonly vendor: number;
  readonly device: number;
  /** REQ_SAME_HOST_BRIDGE: only P2P below one host bridge is vouched for. */
  readonly sameHostBridge: boolean;
  readonly hardware: string;
}

const entry = (vendor: number, device: number, sameHostBridge: boolean, hardware: string): AllowEntry => ({ vendor, device, sameHostBridge, hardware });

/** pci_p2pdma_whitelist[], in the kernel's order (the first match decides). */
export const P2PDMA_ALLOW_LIST: readonly AllowEntry[] = [
  entry(PCI_VENDOR_ID_INTEL, 0x3c00, true, 'Intel Xeon E5/Core i7'),
  entry(PCI_VENDOR_ID_INTEL, 0x3c01, true, 'Intel Xeon E5/Core i7'),
  entry(PCI_VENDOR_ID_INTEL, 0x2f00, true, 'Intel Xeon E7 v3/Xeon E5 v3/Core i7'),
  entry(PCI_VENDOR_ID_INTEL, 0x2f01, true, 'Intel Xeon E7 v3/Xeon E5 v3/Core i7'),
  entry(PCI_VENDOR_ID_INTEL, 0x2030, false, 'Intel Sky Lake-E'),
  entry(PCI_VENDOR_ID_INTEL, 0x2031, false, 'Intel Sky Lake-E'),
  entry(PCI_VENDOR_ID_INTEL, 0x2032, false, 'Intel Sky Lake-E'),
  entry(PCI_VENDOR_ID_INTEL, 0x2033, false, 'Intel Sky Lake-E'),
  entry(PCI_VENDOR_ID_INTEL, 0x2020, false, 'Intel Sky Lake-E'),
  entry(PCI_VENDOR_ID_INTEL, 0x09a2, false, 'Intel 3rd Gen Xeon Scalable (Ice Lake-SP)'),
  entry(PCI_VENDOR_ID_INTEL, 0x0b25, false, 'Intel DSA (Sapphire Rapids)'),
  entry(PCI_VENDOR_ID_INTEL, 0x0cfe, false, 'Intel IAX (Sapphire Rapids)'),
  entry(PCI_VENDOR_ID_INTEL, 0x11fb, false, 'Intel DSA (Granite Rapids-D)'),
  entry(PCI_VENDOR_ID_INTEL, 0x1212, false, 'Intel DSA (Diamond Rapids)'),
  entry(PCI_VENDOR_ID_INTEL, 0x1216, false, 'Intel IAA (Diamond Rapids)'),
  entry(PCI_VENDOR_ID_INTEL, 0x4940, false, 'Intel QAT 4xxx'),
  entry(PCI_VENDOR_ID_INTEL, 0x4942, false, 'Intel QAT 401xx'),
  entry(PCI_VENDOR_ID_INTEL, 0x4944, false, 'Intel QAT 402xx'),
  entry(PCI_VENDOR_ID_INTEL, 0x4946, false, 'Intel QAT 420xx'),
  entry(PCI_VENDOR_ID_INTEL, 0x4948, false, 'Intel QAT 6xxx'),
  entry(PCI_VENDOR_ID_GOOGLE, PCI_ANY_ID, false, 'Google SoCs (any device)'),
  entry(PCI_VENDOR_ID_NVIDIA, 0x2f95, false, 'NVIDIA CPUs'),
  entry(PCI_VENDOR_ID_NVIDIA, 0x2f96, false, 'NVIDIA CPUs'),
  entry(PCI_VENDOR_ID_NVIDIA, 0x2f97, false, 'NVIDIA CPUs'),
  entry(PCI_VENDOR_ID_NVIDIA, 0x2f98, false, 'NVIDIA CPUs'),
  entry(PCI_VENDOR_ID_ZHAOXIN, 0x1003, true, 'Zhaoxin KX-6000/KH-40000/KX-6000G/KX-7000/KH-50000'),
  entry(PCI_VENDOR_ID_ZHAOXIN, 0x1005, true, 'Zhaoxin KX-6000/KH-40000/KX-6000G/KX-7000/KH-50000'),
  entry(PCI_VENDOR_ID_ZHAOXIN, 0x1006, true, 'Zhaoxin KX-6000/KH-40000/KX-6000G/KX-7000/KH-50000'),
  entry(PCI_VENDOR_ID_ZHAOXIN, 0x1007, true, 'Zhaoxin KX-6000/KH-40000/KX-6000G/KX-7000/KH-50000'),
  entry(PCI_VENDOR_ID_ZHAOXIN, 0x1008, false, 'Zhaoxin KX-6000/KH-40000/KX-6000G/KX-7000/KH-50000'),
];

/** "8086:2030" → vendor and device, or null when not that form. */
export function parsePciId(id: string | undefined): { vendor: number; device: number } | null {
  const m = id ? /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(id) : null;
  return m ? { vendor: parseInt(m[1]!, 16), device: parseInt(m[2]!, 16) } : null;
}

/** The vendor of "8086:2030" or of "8086:????" (device ID not known). */
export function parsePciVendor(id: string | undefined): number | null {
  const m = id ? /^([0-9a-fA-F]{4}):/.exec(id) : null;
  return m ? parseInt(m[1]!, 16) : null;
}

export function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** The devices on a host bridge's root bus in bus-scan order (devfn order). */
export function rootBusDevices(t: Topology, hb: HostBridge): Device[] {
  return t.devices.filter((d) => d.parent === hb.id && isPci(d)).sort((a, b) => devfn(a) - devfn(b));
}

export function devfn(d: Device): number {
  return (d.slot << 3) | d.function;
}

/** pci_host_bridge_dev(): the first device on the root bus if it is 00.0 or
 *  a root port; else none (and the host bridge is never allowed). */
export function pciHostBridgeDev(t: Topology, hb: HostBridge): Device | null {
  const first = rootBusDevices(t, hb)[0];
  if (!first) return null;
  return devfn(first) === 0 || first.kind === 'root-port' ? first : null;
}

export interface AllowDecision {
  readonly allowList: AllowList;
  /** The root device the kernel looked up, if any. */
  readonly root: Device | null;
  readonly entry: AllowEntry | null;
  /** The root device's ID is not known: the verdict cannot be derived. */
  readonly unknownId: boolean;
}

/** The table lookup of __host_bridge_whitelist(): the first entry whose
 *  vendor matches and whose device matches or is PCI_ANY_ID. */
export function lookupAllowList(vendor: number, device: number): AllowEntry | null {
  return P2PDMA_ALLOW_LIST.find((e) => e.vendor === vendor && (e.device === PCI_ANY_ID || e.device === device)) ?? null;
}

/** The allow-list verdict of a host bridge from its root-bus devices. */
export function hostBridgeAllowList(t: Topology, hb: HostBridge): AllowDecision {
  const root = pciHostBridgeDev(t, hb);
  const id = parsePciId(root?.pciId);
  if (!root) return { allowList: 'none', root: null, entry: null, unknownId: false };
  let e: AllowEntry | null;
  if (id) e = lookupAllowList(id.vendor, id.device);
  else {
    // Only the vendor is known: decided when no entry of that vendor needs the device ID.
    const vendor = parsePciVendor(root.pciId);
    const ofVendor = P2PDMA_ALLOW_LIST.filter((x) => x.vendor === vendor);
    if (vendor === null || (ofVendor.length > 0 && ofVendor[0]!.device !== PCI_ANY_ID)) return { allowList: 'none', root, entry: null, unknownId: true };
    e = ofVendor[0] ?? null;
  }
  return { allowList: e ? (e.sameHostBridge ? 'same-host-bridge' : 'any') : 'none', root, entry: e, unknownId: false };
}
