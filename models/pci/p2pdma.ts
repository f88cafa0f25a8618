// The model of drivers/pci/p2pdma.c (002 v8 01-04/11): what
// pci_p2pdma_map_type(), pci_p2pdma_distance_many() and the providers must
// be. The routing itself is models/pci/routing.ts (classic and divergence
// variants side by side).
import { isPci, TopologyIndex, type Acs, type Device, type Topology } from './topology.ts';
import type { MapType, P2PProvider } from './types.ts';
import type { PhysAddr, DmaAddr } from '../u64.ts';
import { u64 } from '../u64.ts';
import { routeClassic, routeWith, type Route, type Routing } from './routing.ts';

export { cpuSupportsP2pdma, hostBridgesAllowed, type Route, type Routing } from './routing.ts';

/**
 * pci_bridge_has_acs_redir(), the classic rule: a port redirects P2P
 * upstream when any of ACS RR, CR or EC is set. The divergence variant
 * decides per port and target instead (acsP2pdmaState in routing.ts).
 */
export function acsRedirects(acs: Acs | undefined): boolean {
  return acs !== undefined && (acs.rr || acs.cr || acs.ec);
}

/** calc_map_type_and_dist() between two PCI functions, classic routing. */
export function routeBetween(t: Topology, provider: Device, client: Device, idx = new TopologyIndex(t)): Route {
  return routeClassic(t, provider, client, idx);
}

/** Why pci_p2pdma_map_type() answers NOT_SUPPORTED before any routing, or null. */
export function mapTypePrecheck(t: Topology, provider: P2PProvider | null, clientId: string, idx = new TopologyIndex(t)): string | null {
  const owner = provider ? idx.device(provider.owner) : undefined;
  const client = idx.device(clientId);
  if (!provider || !owner) return 'no p2pdma provider for that BAR';
  if (!owner.p2pdma) return `provider ${owner.id} has no p2pdma (pcim_p2pdma_init() was never called)`;
  if (!client) return `no device ${clientId}`;
  if (!isPci(client)) return `client ${clientId} is not a PCI device`;
  return null;
}

/** pci_p2pdma_map_type(provider, client device): NOT_SUPPORTED for a provider
 *  without p2pdma or a non-PCI client, else the route's map type. */
export function p2pdmaMapType(t: Topology, provider: P2PProvider | null, clientId: string, idx = new TopologyIndex(t), routing: Routing = 'classic'): MapType {
  if (mapTypePrecheck(t, provider, clientId, idx) !== null) return 'NOT_SUPPORTED';
  return routeWith(routing, t, idx.device(provider!.owner)!, idx.device(clientId)!, idx).mapType;
}

/** pci_p2pdma_distance_many(provider, clients, num_clients, verbose): the distance of a list of
 *  clients is the sum of each client's distance ("the cumulative distance between a p2pdma provider
 *  and the clients in use": `distance += ret` per client); -1 with no clients (num_clients == 0), a
 *  client without a PCI parent (find_parent_pci_dev() NULL), or any client the provider cannot reach
 *  (NOT_SUPPORTED), whatever the other clients' distances. `verbose` only adds warnings (and goes on
 *  past an unreachable client to warn about the rest); the answer is the same.
 *  torvalds/linux drivers/pci/p2pdma.c at 3306e99edf70 (and 02917e9f8676), pci_p2pdma_distance_many();
 *  pci_p2pmem_find_many() in the same file asks it about one list for every provider and keeps the
 *  provider with the smallest total. */
export function p2pdmaDistanceMany(t: Topology, providerId: string, clientIds: readonly string[], idx = new TopologyIndex(t), routing: Routing = 'classic'): number {
  const provider = idx.device(providerId);
  if (!provider || clientIds.length === 0) return -1;
  let total = 0;
  for (const id of clientIds) {
    const dev = idx.device(id);
    const client = dev && idx.pciParent(dev);
    if (!client) return -1;
    const r = routeWith(routing, t, provider, client, idx);
    if (r.mapType === 'NOT_SUPPORTED') return -1;
    total += r.distance;
  }
  return total;
}

/** pcim_p2pdma_init + pcim_p2pdma_provider: one provider per MEM BAR, none
 *  for IO BARs, non-mappable BARs or when p2pdma was not initialised (002 v8 03/11). */
export function p2pdmaProvider(dev: Device, bar: number): P2PProvider | null {
  const b = dev.bars.find((x) => x.index === bar);
  if (!dev.p2pdma || !b || b.type !== 'mem' || b.mappable === false) return null;
  return { owner: dev.id, bar, busOffset: b.busOffset };
}

/** pci_p2pdma_bus_addr_map(): the bus address of a CPU physical address (002 v8 02/11). */
export function p2pdmaBusAddrMap(provider: P2PProvider, paddr: PhysAddr): DmaAddr {
  return u64(paddr + provider.busOffset);
}
