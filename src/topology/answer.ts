// One question put to the model: pci_p2pdma_map_type() from a provider (a
// device's MEM BAR) to a client, with the kernel's kind of explanation, and
// the same over every case of what the topology's source did not say.
import { isBridge, isPci, type Device, type Topology, TopologyIndex } from '../../models/pci/topology.ts';
import type { MapType } from '../../models/pci/types.ts';
import { routeWith, type PortDecision, type Route, type Routing } from '../../models/pci/routing.ts';
import type { Cases } from './cases.ts';

export interface PairAnswer {
  readonly mapType: MapType;
  readonly distance: number;
  readonly path: readonly string[];
  readonly blockedBy: readonly string[];
  readonly decisions: readonly PortDecision[];
  readonly reason: string;
}

/** Why no provider serves the device's BAR (pcim_p2pdma_provider() NULL), or null. */
export function providerProblem(dev: Device, bar: number | undefined): string | null {
  if (isBridge(dev)) return `provider ${dev.id} is not an endpoint (a ${dev.kind}): a p2pdma provider is an endpoint's MEM BAR; give an endpoint below it`;
  if (!dev.p2pdma) return `provider ${dev.id} has no p2pdma (pcim_p2pdma_init() was never called for it)`;
  const mem = dev.bars.filter((b) => b.type === 'mem');
  if (bar !== undefined) {
    const b = dev.bars.find((x) => x.index === bar);
    if (!b) return `${dev.id} has no BAR ${bar}`;
    if (b.type !== 'mem') return `BAR ${bar} of ${dev.id} is an I/O BAR: no p2pdma provider`;
    if (b.mappable === false) return `BAR ${bar} of ${dev.id} is not mappable (unassigned or disabled)`;
    return null;
  }
  if (dev.bars.length > 0 && mem.length === 0) return `${dev.id} has no MEM BAR: no p2pdma provider`;
  if (mem.length > 0 && mem.every((b) => b.mappable === false)) return `no MEM BAR of ${dev.id} is mappable (${mem.map((b) => `BAR ${b.index}`).join(', ')})`;
  return null;
}

function explain(r: Route): string {
  if (r.mapType === 'BUS_ADDR') return `peer-to-peer below ${r.common}: no ACS port redirects or blocks on the path`;
  const acs = r.decisions.map((d) => `${d.id} ${d.state === 'redirect' ? 'redirects' : 'blocks'} (${d.why})`).join('; ');
  const why = r.common ? `${acs}, so through the host bridge` : 'no common upstream bridge: through the host bridge';
  const hb = r.hostBridge!;
  const verdict = hb.by === 'cpu' ? `allowed by the CPU: ${hb.detail}` : hb.allowed ? `allowed by the host-bridge allow list: ${hb.detail}` : `not allowed: the CPU is not AMD Zen or newer and ${hb.detail}`;
  return `${why}; ${verdict}`;
}

/** pci_p2pdma_map_type(provider BAR, client) in one case, with the route and why. */
export function pairAnswer(t: Topology, idx: TopologyIndex, provider: Device, client: Device, routing: Routing, bar?: number): PairAnswer {
  const none = (reason: string): PairAnswer => ({ mapType: 'NOT_SUPPORTED', distance: -1, path: [], blockedBy: [], decisions: [], reason });
  const problem = providerProblem(provider, bar);
  if (problem) return none(problem);
  if (!isPci(client)) return none(`client ${client.id} is not a PCI device: pci_p2pdma_map_type() answers NOT_SUPPORTED`);
  const r = routeWith(routing, t, provider, client, idx);
  // With no common bridge the ACS ports change nothing: the host bridge decides.
  const acs = r.common === undefined ? { blockedBy: [], decisions: [] } : { blockedBy: r.blockedBy, decisions: r.decisions };
  return { mapType: r.mapType, distance: r.distance, path: r.path, ...acs, reason: explain(r) };
}

export interface Answered<A> {
  readonly answer: A;
  readonly determined: boolean;
  readonly missing: readonly string[];
  readonly cases: readonly { readonly when: readonly string[]; readonly answer: A }[];
}

/** The pair's answer in every case of the unknown facts. */
export function pairInCases(cases: Cases, providerId: string, clientId: string, routing: Routing, bar?: number): Answered<PairAnswer> {
  return cases.answer((c) => pairAnswer(c.topology, c.idx, c.idx.device(providerId)!, c.idx.device(clientId)!, routing, bar), (a) => `${a.mapType}/${a.distance}`);
}

export { TopologyIndex };
