// The model of drivers/pci/p2pdma.c routing (002 v8 01-04/11): what
// pci_p2pdma_map_type() and the distance must be, said declaratively:
// the two paths up to the lowest common upstream bridge, the ports whose
// ACS bits count, and the host-bridge decision.
import { isPci, TopologyIndex, type Acs, type Device, type Topology } from './topology.ts';
import type { MapType, P2PProvider } from './types.ts';
import type { PhysAddr, DmaAddr } from '../u64.ts';
import { u64 } from '../u64.ts';

/**
 * The early-2026 rule (pci_bridge_has_acs_redir): a port redirects P2P
 * upstream when any of ACS RR, CR or EC is set. The one place that decides
 * it: a PCIe r7.0 egress-control variant sits beside this function.
 */
export function acsRedirects(acs: Acs | undefined): boolean {
  return acs !== undefined && (acs.rr || acs.cr || acs.ec);
}

/** cpu_supports_p2pdma(): any AMD CPU of family Zen (0x17) or newer. */
export function cpuSupportsP2pdma(t: Topology): boolean {
  return t.cpu.vendor === 'amd' && t.cpu.family >= 0x17;
}

/** host_bridge_whitelist(): both root complexes are on the allow list
 *  (REQ_SAME_HOST_BRIDGE entries only when it is the same host bridge). */
export function hostBridgesAllowed(idx: TopologyIndex, a: Device, b: Device): boolean {
  const ha = idx.hostBridge(a);
  const hb = idx.hostBridge(b);
  if (ha === hb) return ha.allowList !== 'none';
  return ha.allowList === 'any' && hb.allowList === 'any';
}

export interface Route {
  readonly mapType: MapType;
  /** Ports from provider to client; the host bridge(s) when there is no common bridge. */
  readonly path: readonly string[];
  /** Ports with ACS redirect on the counted part of the path, in walk order (provider side first). */
  readonly blockedBy: readonly string[];
  readonly distance: number;
  /** The lowest common upstream bridge, when there is one. */
  readonly common?: string;
}

/** Map type and distance between two PCI functions (calc_map_type_and_dist). */
export function routeBetween(t: Topology, provider: Device, client: Device, idx = new TopologyIndex(t)): Route {
  const up = idx.chain(provider);
  const down = idx.chain(client);
  const i = up.findIndex((d) => down.includes(d));
  const hostBridge = (): MapType => (cpuSupportsP2pdma(t) || hostBridgesAllowed(idx, provider, client) ? 'THRU_HOST_BRIDGE' : 'NOT_SUPPORTED');
  if (i < 0) {
    const bridges = [...new Set([idx.hostBridge(provider).id, idx.hostBridge(client).id])];
    return {
      mapType: hostBridge(),
      path: [...up.map((d) => d.id), ...bridges, ...[...down].reverse().map((d) => d.id)],
      blockedBy: up.filter((d) => acsRedirects(d.acs)).map((d) => d.id),
      distance: up.length + down.length,
    };
  }
  const common = up[i]!;
  const j = down.indexOf(common);
  // ACS counts on the provider's path up to and including the common
  // bridge, and on the client's path below it.
  const counted = [...up.slice(0, i + 1), ...down.slice(0, j)];
  const blockedBy = counted.filter((d) => acsRedirects(d.acs)).map((d) => d.id);
  return {
    mapType: blockedBy.length === 0 ? 'BUS_ADDR' : hostBridge(),
    path: [...up.slice(0, i + 1).map((d) => d.id), ...down.slice(0, j).reverse().map((d) => d.id)],
    blockedBy,
    distance: i + j,
    common: common.id,
  };
}

/** pci_p2pdma_map_type(provider, client device): NOT_SUPPORTED for a provider
 *  without p2pdma or a non-PCI client, else the route's map type. */
export function p2pdmaMapType(t: Topology, provider: P2PProvider | null, clientId: string, idx = new TopologyIndex(t)): MapType {
  const owner = provider ? idx.device(provider.owner) : undefined;
  const client = idx.device(clientId);
  if (!owner?.p2pdma || !client || !isPci(client)) return 'NOT_SUPPORTED';
  return routeBetween(t, owner, client, idx).mapType;
}

/** pci_p2pdma_distance_many(): -1 with no clients, a non-PCI client without a
 *  PCI parent, or any NOT_SUPPORTED client; else the sum of the distances. */
export function p2pdmaDistanceMany(t: Topology, providerId: string, clientIds: readonly string[], idx = new TopologyIndex(t)): number {
  const provider = idx.device(providerId);
  if (!provider || clientIds.length === 0) return -1;
  let total = 0;
  for (const id of clientIds) {
    const dev = idx.device(id);
    const client = dev && idx.pciParent(dev);
    if (!client) return -1;
    const r = routeBetween(t, provider, client, idx);
    if (r.mapType === 'NOT_SUPPORTED') return -1;
    total += r.distance;
  }
  return total;
}

/** pcim_p2pdma_init + pcim_p2pdma_provider: one provider per MEM BAR, none
 *  for IO BARs or when p2pdma was not initialised (002 v8 03/11). */
export function p2pdmaProvider(dev: Device, bar: number): P2PProvider | null {
  const b = dev.bars.find((x) => x.index === bar);
  if (!dev.p2pdma || !b || b.type !== 'mem') return null;
  return { owner: dev.id, bar, busOffset: b.busOffset };
}

/** pci_p2pdma_bus_addr_map(): the bus address of a CPU physical address (002 v8 02/11). */
export function p2pdmaBusAddrMap(provider: P2PProvider, paddr: PhysAddr): DmaAddr {
  return u64(paddr + provider.busOffset);
}
