// Shared PCI vocabulary (include/linux/pci-p2pdma.h, include/linux/pci.h).
// The topology model (models/pci/topology.ts) builds on these; PAL, SGT,
// lifecycle and mapping models use only what is here.
import type { U64 } from '../u64.ts';

/** enum pci_p2pdma_map_type, include/linux/pci-p2pdma.h (002 v8 04/11). */
export type MapType = 'UNKNOWN' | 'NOT_SUPPORTED' | 'BUS_ADDR' | 'THRU_HOST_BRIDGE';
export const MAP_TYPES: readonly MapType[] = ['UNKNOWN', 'NOT_SUPPORTED', 'BUS_ADDR', 'THRU_HOST_BRIDGE'];

/** IORESOURCE_MEM / IORESOURCE_IO; an unimplemented BAR has size 0. */
export type BarType = 'mem' | 'io';

/** PCI_STD_NUM_BARS; VFIO_PCI_ROM_REGION_INDEX is 6 (include/uapi/linux/vfio.h). */
export const PCI_STD_NUM_BARS = 6;
export const VFIO_PCI_ROM_REGION_INDEX = 6;

/** One BAR of a function: pci_resource_start/len and pci_bus_address - start. */
export interface Bar {
  readonly index: number;
  readonly type: BarType;
  /** pci_resource_start(): CPU physical address. */
  readonly start: U64;
  /** pci_resource_len(). */
  readonly size: U64;
  /** pci_bus_address(pdev, bar) - pci_resource_start(pdev, bar) (u64, wraps). */
  readonly busOffset: U64;
  /** false: the BAR has no CPU mapping (unassigned or disabled), so no
   *  provider serves it; absent means mappable. */
  readonly mappable?: boolean;
}

/** struct p2pdma_provider (002 v8 03/11): one per MEM BAR after pcim_p2pdma_init. */
export interface P2PProvider {
  /** Id of the function that owns the BAR. */
  readonly owner: string;
  readonly bar: number;
  readonly busOffset: U64;
}
