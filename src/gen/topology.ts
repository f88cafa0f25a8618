// fast-check arbitraries for valid PCI topologies: 1-4 host bridges (now and
// then replicas of one another, each its own domain), switch depth 0-4,
// multi-function devices, random ACS bits, BARs from one page to 2^40,
// allow-list and CPU variants; and query sequences that often keep one
// provider, with lists of 0-4 clients asked of one provider at once. Trees
// are built from nested specs, so fast-check shrinks them toward small trees.
import fc from 'fast-check';
import { ALLOW_LISTS, type Acs, type AllowList, type Cpu, type Device, type Topology } from '../../models/pci/topology.ts';
import type { Bar } from '../../models/pci/types.ts';
import { hostBridgeAllowList } from '../../models/pci/allowlist.ts';

interface FnSpec { readonly acs: Acs | undefined; readonly bars: Bar[]; readonly p2pdma: boolean; readonly platformChild: boolean }
type NodeSpec =
  | { readonly kind: 'endpoint'; readonly functions: FnSpec[] }
  | { readonly kind: 'switch'; readonly up: Acs | undefined; readonly downs: { acs: Acs | undefined; child: NodeSpec | null }[] }
  | { readonly kind: 'bridge'; readonly acs: Acs | undefined; readonly children: NodeSpec[] };
interface RootPortSpec { readonly acs: Acs | undefined; readonly child: NodeSpec | null }
/** A root bus given by its devices: a 00.0 host-bridge function with an ID, or IDs on the first root port (Sky Lake-E style, no 00.0). */
interface RootSpec { readonly pciId: string; readonly onRootPort: boolean }
interface HostBridgeSpec { readonly allowList: AllowList; readonly root: RootSpec | null; readonly rootPorts: RootPortSpec[]; readonly rciep: FnSpec[] }

/** Root-device IDs: listed any-host-bridge, same-host-bridge only, Google's any-device entry, not listed. */
const ROOT_IDS = ['8086:2030', '8086:2031', '8086:09a2', '8086:3c00', '8086:2f01', '8086:0b25', '1ae0:00f1', '10de:2f96', '1d17:1003', '1d17:1008', '1022:1480', '8086:4668'];

const NO_ACS: Acs = { rr: false, cr: false, ec: false };

/** ACS bits: absent, all off, or any combination. */
export const acsArb: fc.Arbitrary<Acs | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(NO_ACS),
  fc.record({ rr: fc.boolean(), cr: fc.boolean(), ec: fc.boolean() }),
);

/** One BAR: power-of-two size 4 KiB..2^40, naturally aligned start, bus offset often 0; now and then a MEM
 *  BAR the PCI core could not assign (mappable false: no CPU address, so no p2pdma provider). */
export function barArb(index: number): fc.Arbitrary<Bar> {
  return fc
    .record({
      type: fc.constantFrom<'mem' | 'io'>('mem', 'mem', 'mem', 'io'),
      sizeShift: fc.integer({ min: 12, max: 40 }),
      window: fc.bigInt({ min: 1n, max: 1n << 20n }),
      busOffset: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 1n << 20n }).map((x) => x << 12n), fc.constant((1n << 64n) - (1n << 32n))),
      assigned: fc.oneof({ weight: 7, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    })
    .map(({ type, sizeShift, window, busOffset, assigned }) => ({ index, type, start: window << 40n, size: 1n << BigInt(sizeShift), busOffset, ...(assigned || type !== 'mem' ? {} : { mappable: false }) }));
}

const barsArb: fc.Arbitrary<Bar[]> = fc
  .uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 3 })
  .chain((idx) => (idx.length === 0 ? fc.constant([]) : fc.tuple(...idx.map(barArb))));

const fnArb: fc.Arbitrary<FnSpec> = fc.record({
  acs: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: acsArb }),
  bars: barsArb,
  p2pdma: fc.boolean(),
  platformChild: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const endpointArb = fc.array(fnArb, { minLength: 1, maxLength: 3 }).map((functions): NodeSpec => ({ kind: 'endpoint', functions }));

/** A subtree below a port with at most `depth` more switch levels. */
function nodeArb(depth: number): fc.Arbitrary<NodeSpec> {
  if (depth === 0) return endpointArb;
  const child = nodeArb(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: endpointArb },
    {
      weight: 2,
      arbitrary: fc
        .record({ up: acsArb, downs: fc.array(fc.record({ acs: acsArb, child: fc.option(child, { nil: null }) }), { minLength: 1, maxLength: 3 }) })
        .map((s): NodeSpec => ({ kind: 'switch', ...s })),
    },
    { weight: 1, arbitrary: fc.record({ acs: acsArb, children: fc.array(endpointArb, { minLength: 1, maxLength: 2 }) }).map((s): NodeSpec => ({ kind: 'bridge', ...s })) },
  );
}

const cpuArb: fc.Arbitrary<Cpu> = fc.oneof(
  fc.constant<Cpu>({ vendor: 'other', family: 0 }),
  fc.constantFrom(0x15, 0x16, 0x17, 0x19, 0x1a).map((family): Cpu => ({ vendor: 'amd', family })),
  fc.constant<Cpu>({ vendor: 'intel', family: 6 }),
);

function hostBridgeArb(maxSwitchDepth: number): fc.Arbitrary<HostBridgeSpec> {
  return fc.record({
    allowList: fc.constantFrom(...ALLOW_LISTS),
    root: fc.option(fc.record({ pciId: fc.constantFrom(...ROOT_IDS), onRootPort: fc.boolean() }), { nil: null, freq: 2 }),
    rootPorts: fc.array(fc.record({ acs: acsArb, child: fc.option(nodeArb(maxSwitchDepth), { nil: null, freq: 6 }) }), { maxLength: 3 }),
    rciep: fc.array(fnArb, { maxLength: 2 }),
  });
}

/** Flattens nested specs into the device list of a Topology with readable ids. */
class Flattener {
  readonly devices: Device[] = [];
  private n = 0;

  private id(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  private add(d: Device): string {
    this.devices.push(d);
    return d.id;
  }

  functions(parent: string, slot: number, fns: readonly FnSpec[]): void {
    const base = this.id('ep');
    fns.forEach((f, fn) => {
      const id = this.add({ id: fns.length > 1 ? `${base}.${fn}` : base, kind: 'endpoint', parent, slot, function: fn, ...(f.acs ? { acs: f.acs } : {}), bars: f.bars, p2pdma: f.p2pdma });
      if (f.platformChild) this.add({ id: `${id}-plat`, kind: 'platform', parent: id, slot: 0, function: 0, bars: [], p2pdma: false });
    });
  }

  node(parent: string, slot: number, spec: NodeSpec): void {
    if (spec.kind === 'endpoint') return this.functions(parent, slot, spec.functions);
    if (spec.kind === 'bridge') {
      const br = this.add({ id: this.id('br'), kind: 'bridge', parent, slot, function: 0, ...(spec.acs ? { acs: spec.acs } : {}), bars: [], p2pdma: false });
      spec.children.forEach((c, i) => this.node(br, i, c));
      return;
    }
    const up = this.add({ id: this.id('usp'), kind: 'switch-upstream', parent, slot, function: 0, ...(spec.up ? { acs: spec.up } : {}), bars: [], p2pdma: false });
    spec.downs.forEach((d, i) => {
      const dsp = this.add({ id: this.id('dsp'), kind: 'switch-downstream', parent: up, slot: i, function: 0, ...(d.acs ? { acs: d.acs } : {}), bars: [], p2pdma: false });
      if (d.child) this.node(dsp, 0, d.child);
    });
  }

  hostBridge(hb: string, spec: HostBridgeSpec): void {
    const root = spec.root;
    if (root && !root.onRootPort) this.add({ id: this.id('host'), kind: 'endpoint', parent: hb, slot: 0, function: 0, bars: [], p2pdma: false, pciId: root.pciId, pciClass: '0600' });
    spec.rootPorts.forEach((rp, i) => {
      const pciId = root?.onRootPort && i === 0 ? { pciId: root.pciId } : {};
      const id = this.add({ id: this.id('rp'), kind: 'root-port', parent: hb, slot: i + 1, function: 0, ...(rp.acs ? { acs: rp.acs } : {}), bars: [], p2pdma: false, ...pciId });
      if (rp.child) this.node(id, 0, rp.child);
    });
    if (spec.rciep.length > 0) this.functions(hb, 20, spec.rciep);
  }
}

export interface TopologyOptions {
  readonly maxHostBridges?: number;
  readonly maxSwitchDepth?: number;
}

/** The host bridges of a machine: each one generated, or now and then a replica of an earlier one.
 *  Servers build their PCI hierarchy from copies of one root complex (one per socket or die, each
 *  with the same root ports and the same on-board devices), and where each root complex is a PCI
 *  domain of its own (arm64 servers: one ACPI segment per root complex, each with its bus range from
 *  00; Hyper-V's pci-hyperv: one domain per passed-through device, on bus 00) the domains number
 *  their buses alike: the same bus/devfn then names a device in each domain, and only
 *  pci_domain_nr() tells them apart. lspci prints a root bus as [domain:bus] ("-[0000:00]-" in
 *  topologies/lspci, whose dumps are all of one domain) for that reason. The simulated PCI core makes
 *  each host bridge a domain and enumerates its buses from 00 (src/kernel/pci.ts), so a replica puts
 *  a device at every BDF of the original in another domain. */
function hostBridgesArb(opts: TopologyOptions): fc.Arbitrary<HostBridgeSpec[]> {
  const max = opts.maxHostBridges ?? 4;
  // Per host bridge after the first: fresh 2 times in 3, else a replica of the earlier one at index (n mod i).
  const replicaOf = fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() });
  return fc
    .tuple(fc.array(hostBridgeArb(opts.maxSwitchDepth ?? 4), { minLength: 1, maxLength: max }), fc.array(replicaOf, { maxLength: max - 1 }))
    .map(([fresh, replicas]) => {
      const out: HostBridgeSpec[] = [];
      fresh.forEach((h, i) => {
        const r = i > 0 ? replicas[i - 1] : null;
        out.push(r === null || r === undefined ? h : out[r % i]!);
      });
      return out;
    });
}

/** A random valid topology. */
export function topologyArb(opts: TopologyOptions = {}): fc.Arbitrary<Topology> {
  return fc
    .record({ cpu: cpuArb, hbs: hostBridgesArb(opts) })
    .map(({ cpu, hbs }) => {
      const f = new Flattener();
      hbs.forEach((h, i) => f.hostBridge(`hb${i}`, h));
      const stated = hbs.map((h, i) => ({ id: `hb${i}`, allowList: h.allowList, ...(h.root ? { rootBus: true } : {}) }));
      const t: Topology = { cpu, hostBridges: stated, devices: f.devices };
      // A root bus given by its devices gets the kernel's verdict, looked up as the loader does.
      return { ...t, hostBridges: stated.map((hb) => (hb.rootBus ? { ...hb, allowList: hostBridgeAllowList(t, hb).allowList } : hb)) };
    });
}

/** Endpoint functions of a topology (the devices that own BARs). */
export function endpoints(t: Topology): Device[] {
  return t.devices.filter((d) => d.kind === 'endpoint');
}

type PairPick = [number, number, boolean, boolean];

const pairPickArb: fc.Arbitrary<PairPick> = fc.tuple(
  fc.nat(), fc.nat(),
  fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  // The same provider as the pair before, half the time.
  fc.boolean(),
);

function pairsOf(topology: Topology, picks: readonly PairPick[]): [string, string][] {
  const eps = endpoints(topology).map((d) => d.id);
  const all = topology.devices.map((d) => d.id);
  const pairs: [string, string][] = [];
  for (const [p, c, anyDevice, sameProvider] of picks) {
    const provider = sameProvider && pairs.length > 0 ? pairs[pairs.length - 1]![0] : eps[p % eps.length]!;
    pairs.push([provider, anyDevice ? all[c % all.length]! : eps[c % eps.length]!]);
  }
  return pairs;
}

/** A topology with at least one endpoint, and a sequence of (provider, client)
 *  pairs: providers among the endpoints, clients mostly endpoints and sometimes
 *  any device. Pairs are indices, so the topology shrinks independently.
 *  A pair often keeps the provider of the pair before it: the kernel asks about one provider and a
 *  list of clients (pci_p2pdma_distance_many(provider, clients, num_clients), pci_p2pmem_find_many()),
 *  and pci_p2pdma_map_type() answers from a cache kept per provider (provider->p2pdma->map_types,
 *  an xarray indexed by map_types_idx(client)), so what one client stored is read back for another
 *  only when both are asked of the same provider. */
export function topologyWithPairsArb(opts: TopologyOptions = {}): fc.Arbitrary<{ topology: Topology; pairs: [string, string][] }> {
  return fc
    .record({ topology: topologyArb(opts).filter((t) => endpoints(t).length > 0), picks: fc.array(pairPickArb, { minLength: 1, maxLength: 8 }) })
    .map(({ topology, picks }) => ({ topology, pairs: pairsOf(topology, picks) }));
}

/** The most clients a generated pci_p2pdma_distance_many() list holds. */
export const MAX_LIST_CLIENTS = 4;

/** One pci_p2pdma_distance_many(provider, clients, num_clients) query. */
export interface ClientList {
  readonly provider: string;
  readonly clients: string[];
}

type ListPick = { provider: number; ofPair: boolean; clients: [number, boolean, boolean][] };

const listPickArb: fc.Arbitrary<ListPick> = fc.record({
  provider: fc.nat(),
  ofPair: fc.boolean(),
  // A client: an endpoint, one near the provider (under its host bridge) or any device at all.
  clients: fc.array(fc.tuple(fc.nat(), fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })), { maxLength: MAX_LIST_CLIENTS }),
});

/** The host bridge each device sits under. */
function hostBridges(t: Topology): Map<string, string> {
  const byId = new Map(t.devices.map((d) => [d.id, d]));
  const of = (d: Device): string => (byId.has(d.parent) ? of(byId.get(d.parent)!) : d.parent);
  return new Map(t.devices.map((d) => [d.id, of(d)]));
}

function listsOf(topology: Topology, pairs: readonly [string, string][], picks: readonly ListPick[]): ClientList[] {
  const eps = endpoints(topology).map((d) => d.id);
  const all = topology.devices.map((d) => d.id);
  const hbOf = hostBridges(topology);
  return picks.map(({ provider: p, ofPair, clients }) => {
    const provider = ofPair && pairs.length > 0 ? pairs[p % pairs.length]![0] : eps[p % eps.length]!;
    const near = eps.filter((e) => hbOf.get(e) === hbOf.get(provider));
    return { provider, clients: clients.map(([c, isNear, anyDevice]) => (anyDevice ? all[c % all.length]! : isNear ? near[c % near.length]! : eps[c % eps.length]!)) };
  });
}

/** topologyWithPairsArb's topology and pairs, and 1-3 lists of 0..MAX_LIST_CLIENTS clients, each asked
 *  of one provider with pci_p2pdma_distance_many(). The kernel asks about lists: pci_p2pmem_find_many(clients,
 *  num_clients) calls pci_p2pdma_distance_many(pdev, clients, num_clients, false) for every published
 *  provider and keeps the one with the smallest total (torvalds/linux drivers/pci/p2pdma.c at 3306e99edf70);
 *  the total is a sum ("the cumulative distance", `distance += ret`) that a list of 0 or 1 client cannot
 *  tell from the last client's distance. A list's provider is a pair's half the time; its clients are
 *  mostly endpoints under the provider's host bridge (a provider reaches those most often: the answer is
 *  a sum, not -1), else any endpoint, and now and then any device (a platform device counts as its PCI
 *  parent, a root port or a switch port as itself). A client may repeat. */
export function topologyWithQueriesArb(opts: TopologyOptions = {}): fc.Arbitrary<{ topology: Topology; pairs: [string, string][]; lists: ClientList[] }> {
  return fc
    .record({
      topology: topologyArb(opts).filter((t) => endpoints(t).length > 0),
      picks: fc.array(pairPickArb, { minLength: 1, maxLength: 8 }),
      lists: fc.array(listPickArb, { minLength: 1, maxLength: 3 }),
    })
    .map(({ topology, picks, lists }) => {
      const pairs = pairsOf(topology, picks);
      return { topology, pairs, lists: listsOf(topology, pairs, lists) };
    });
}
