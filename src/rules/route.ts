// The ROUTE checkers: run a p2pdma implementation on the simulated PCI core
// and compare it with models/pci/p2pdma.ts (ROUTE-MAPTYPE, ROUTE-DIST,
// ROUTE-PROVIDER, ROUTE-BUSADDR).
import { p2pdmaBusAddrMap, p2pdmaDistanceMany, p2pdmaProvider } from '../../models/pci/p2pdma.ts';
import { routeWith, type Routing } from '../../models/pci/routing.ts';
import { parsePciId } from '../../models/pci/allowlist.ts';
import { isPci, TopologyIndex, type Topology } from '../../models/pci/topology.ts';
import { PCI_STD_NUM_BARS } from '../../models/pci/types.ts';
import { hex, type U64 } from '../../models/u64.ts';
import { PciSystem, type PciDev } from '../kernel/pci.ts';
import { P2pdma, P2pdmaDivergence } from '../impl/p2pdma.ts';
import type { ViolationLog } from './violation.ts';

export interface RouteImpl {
  readonly name: string;
  /** The routing variant it follows: it is checked against that variant of the model. */
  readonly routing: Routing;
  create(t: Topology): P2pdma;
}

/** The faithful ports, one per routing variant (the seeded bugs are in src/bugs/index.ts). */
export const ROUTE_IMPLS: readonly RouteImpl[] = [
  { name: 'p2pdma', routing: 'classic', create: (t) => new P2pdma(t.cpu) },
  { name: 'p2pdma-divergence', routing: 'divergence', create: (t) => new P2pdmaDivergence(t.cpu) },
];

/** The root buses as the topology states them: when a host bridge's verdict
 *  comes from its root-bus devices, the simulated bus holds those devices
 *  with their IDs (in devfn order) instead of a stand-in root device. */
export function realRootBuses(sys: PciSystem, t: Topology): void {
  for (const hb of t.hostBridges) {
    if (!hb.rootBus) continue;
    const mine = t.devices.filter((d) => d.parent === hb.id && sys.devices.has(d.id));
    const bus = mine.length > 0 ? sys.devices.get(mine[0]!.id)!.bus : null;
    if (!bus) continue;
    const keep = bus.devices.filter((p) => p.name !== `${hb.id}:root`).sort((x, y) => x.devfn - y.devfn);
    bus.devices.splice(0, bus.devices.length, ...keep);
    for (const d of mine) {
      const id = parsePciId(d.pciId);
      const pdev = sys.devices.get(d.id)! as { -readonly [K in keyof PciDev]: PciDev[K] };
      pdev.vendor = id?.vendor ?? 0xffff;
      pdev.device = id?.device ?? 0xffff;
    }
  }
}

/** A topology brought up on the simulated PCI core with one implementation:
 *  pcim_p2pdma_init() run on every device whose driver asked for it. */
export class RouteBench {
  readonly sys: PciSystem;
  readonly impl: P2pdma;
  readonly idx: TopologyIndex;

  constructor(readonly topology: Topology, make: (t: Topology) => P2pdma = (t) => new P2pdma(t.cpu), readonly routing: Routing = 'classic') {
    this.sys = new PciSystem(topology);
    realRootBuses(this.sys, topology);
    this.impl = make(topology);
    this.idx = new TopologyIndex(topology);
    for (const d of topology.devices) if (d.acs) this.impl.acsConfig.set(d.id, { ...(d.acs.unreadable ? { unreadable: true } : {}), ...(d.acs.egressBlocked ? { egressBlocked: d.acs.egressBlocked } : {}) });
    for (const d of topology.devices) if (d.p2pdma && isPci(d)) this.impl.pcim_p2pdma_init(this.sys.devices.get(d.id)!);
  }

  /** calc_map_type_and_dist through the cache-free entry point, with its ACS list. */
  calc(providerId: string, clientId: string) {
    const r = this.impl.calc_map_type_and_dist(this.sys.devices.get(providerId)!, this.sys.devices.get(clientId)!);
    return { ...r, acsList: this.impl.lastAcsList };
  }
}

/** ROUTE-MAPTYPE and ROUTE-DIST for one (provider, client) pair of PCI functions. */
export function checkPair(bench: RouteBench, providerId: string, clientId: string, log: ViolationLog): void {
  const { topology: t, idx } = bench;
  const provider = idx.device(providerId)!;
  const client = idx.device(clientId)!;
  const model = routeWith(bench.routing, t, provider, client, idx);
  const got = bench.calc(providerId, clientId);
  const evidence = { provider: providerId, client: clientId, model: model.mapType, port: got.mapType, modelAcs: model.blockedBy, portAcs: got.acsList };
  if (got.mapType !== model.mapType) log.report('ROUTE-MAPTYPE', `calc_map_type_and_dist(${providerId}, ${clientId}) = ${got.mapType}, model ${model.mapType}`, evidence);
  else if (got.acsList.join(';') !== model.blockedBy.join(';')) log.report('ROUTE-MAPTYPE', `ACS redirect list [${got.acsList.join(';')}] differs from the model [${model.blockedBy.join(';')}]`, evidence);
  if (got.dist !== model.distance) log.report('ROUTE-DIST', `distance(${providerId}, ${clientId}) = ${got.dist}, model ${model.distance}`, { provider: providerId, client: clientId, model: model.distance, port: got.dist });
  const many = bench.impl.pci_p2pdma_distance_many(bench.sys.devices.get(providerId)!, [bench.sys.device(clientId)!]);
  const manyModel = p2pdmaDistanceMany(t, providerId, [clientId], idx, bench.routing);
  if (many !== manyModel) log.report('ROUTE-DIST', `pci_p2pdma_distance_many(${providerId}, [${clientId}]) = ${many}, model ${manyModel}`, { model: manyModel, port: many });
}

/** ROUTE-MAPTYPE through pci_p2pdma_map_type(provider, dev), with the
 *  per-provider cache live across the whole query sequence. */
export function checkMapType(bench: RouteBench, providerId: string, bar: number, clientId: string, log: ViolationLog): void {
  const provider = bench.impl.pcim_p2pdma_provider(bench.sys.devices.get(providerId)!, bar);
  const modelProvider = p2pdmaProvider(bench.idx.device(providerId)!, bar);
  if (!provider || !modelProvider) return;
  const got = bench.impl.pci_p2pdma_map_type(provider, bench.sys.device(clientId)!);
  const model = routeOrNot(bench, providerId, clientId);
  if (got !== model) log.report('ROUTE-MAPTYPE', `pci_p2pdma_map_type(${providerId} BAR${bar}, ${clientId}) = ${got}, model ${model}`, { provider: providerId, bar, client: clientId, model, port: got });
}

function routeOrNot(bench: RouteBench, providerId: string, clientId: string) {
  const client = bench.idx.device(clientId)!;
  if (!isPci(client)) return 'NOT_SUPPORTED';
  return routeWith(bench.routing, bench.topology, bench.idx.device(providerId)!, client, bench.idx).mapType;
}

/** ROUTE-PROVIDER and ROUTE-BUSADDR for every BAR slot of one device. */
export function checkProviders(bench: RouteBench, deviceId: string, offsets: readonly U64[], log: ViolationLog): void {
  const dev = bench.idx.device(deviceId)!;
  const pdev = bench.sys.devices.get(deviceId)!;
  for (let bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
    const model = p2pdmaProvider(dev, bar);
    const got = bench.impl.pcim_p2pdma_provider(pdev, bar);
    if (!model !== !got || (got && got.owner !== pdev) || (got && model && got.bus_offset !== model.busOffset)) {
      log.report('ROUTE-PROVIDER', `pcim_p2pdma_provider(${deviceId}, ${bar}) = ${got ? `provider(bus_offset ${hex(got.bus_offset)})` : 'NULL'}, model ${model ? `provider(bus_offset ${hex(model.busOffset)})` : 'NULL'}`, { device: deviceId, bar });
      continue;
    }
    if (!got || !model) continue;
    const bar0 = dev.bars.find((b) => b.index === bar)!;
    for (const off of offsets) {
      const paddr = bar0.start + (off % bar0.size);
      const want = p2pdmaBusAddrMap(model, paddr);
      const have = bench.impl.pci_p2pdma_bus_addr_map(got, paddr);
      if (have !== want) log.report('ROUTE-BUSADDR', `pci_p2pdma_bus_addr_map(${deviceId} BAR${bar}, ${hex(paddr)}) = ${hex(have)}, model ${hex(want)}`, { device: deviceId, bar, paddr: hex(paddr), model: hex(want), port: hex(have) });
    }
  }
}

/** One client's part of a list's distance in the model: its distance, or why it makes the list -1. */
function clientShare(bench: RouteBench, providerId: string, clientId: string): string {
  const dev = bench.idx.device(clientId);
  const pci = dev && bench.idx.pciParent(dev);
  if (!pci) return `${clientId} has no PCI parent`;
  const r = routeWith(bench.routing, bench.topology, bench.idx.device(providerId)!, pci, bench.idx);
  return r.mapType === 'NOT_SUPPORTED' ? `${clientId} NOT_SUPPORTED` : `${clientId} ${r.distance}`;
}

/** ROUTE-DIST for pci_p2pdma_distance_many(provider, clients, num_clients): the sum of the clients'
 *  distances, -1 with none or when any is unreachable (models/pci/p2pdma.ts p2pdmaDistanceMany). */
export function checkDistanceMany(bench: RouteBench, providerId: string, clientIds: readonly string[], log: ViolationLog): void {
  const provider = bench.sys.devices.get(providerId);
  const clients = clientIds.map((c) => bench.sys.device(c));
  if (!provider || clients.some((c) => !c)) return;
  const got = bench.impl.pci_p2pdma_distance_many(provider, clients.map((c) => c!));
  const model = p2pdmaDistanceMany(bench.topology, providerId, clientIds, bench.idx, bench.routing);
  if (got === model) return;
  const why = clientIds.length === 0 ? 'no clients' : model === -1 ? clientIds.map((c) => clientShare(bench, providerId, c)).filter((x) => !/ -?\d+$/.test(x)).join(', ') : `the sum of ${clientIds.map((c) => clientShare(bench, providerId, c)).join(', ')}`;
  log.report('ROUTE-DIST', `pci_p2pdma_distance_many(${providerId}, [${clientIds.join(', ')}]) = ${got}, model ${model} (${why})`, { provider: providerId, clients: [...clientIds], model, port: got });
}

/** All ROUTE rules over the given pairs and client lists. pci_p2pdma_map_type() goes first over
 *  the whole sequence, so its per-provider cache answers later queries; each list is one
 *  pci_p2pdma_distance_many() call. */
export function checkTopology(bench: RouteBench, pairs: readonly (readonly [string, string])[], log: ViolationLog, offsets: readonly U64[] = [0n], lists: readonly { readonly provider: string; readonly clients: readonly string[] }[] = []): void {
  const known = pairs.filter(([p, c]) => bench.idx.device(p) && bench.idx.device(c) && isPci(bench.idx.device(p)!));
  for (const [p, c] of known) for (const b of bench.idx.device(p)!.bars) checkMapType(bench, p, b.index, c, log);
  for (const [p, c] of known) if (isPci(bench.idx.device(c)!)) checkPair(bench, p, c, log);
  for (const d of bench.topology.devices) if (d.p2pdma && isPci(d)) checkProviders(bench, d.id, offsets, log);
  for (const l of lists) if (bench.idx.device(l.provider) && isPci(bench.idx.device(l.provider)!)) checkDistanceMany(bench, l.provider, l.clients, log);
  const firstPci = bench.topology.devices.find(isPci);
  if (firstPci && bench.impl.pci_p2pdma_distance_many(bench.sys.devices.get(firstPci.id)!, []) !== -1) {
    log.report('ROUTE-DIST', 'pci_p2pdma_distance_many() with no clients is not -1', { provider: firstPci.id });
  }
}
