// dmabuf-conform route <topology.json|dump.txt> <provider> <client>:
// pci_p2pdma_map_type() from the provider's MEM BAR to the client, the
// distance, the path, the ACS ports that forced the host bridge and what
// decided there (the CPU or an allow-list entry). On an lspci dump, each
// fact the dump leaves out is named, with the answer under each possibility.
// `--distance-many P C...` is pci_p2pdma_distance_many(); `--diff-routing`
// puts the classic and divergence variants side by side.
import { ROUTINGS, type Routing } from '../../models/pci/routing.ts';
import { p2pdmaDistanceMany } from '../../models/pci/p2pdma.ts';
import { isPci, type Topology } from '../../models/pci/topology.ts';
import { Cases } from '../topology/cases.ts';
import { pairInCases, type PairAnswer } from '../topology/answer.ts';
import { cpuOption, loadInput, resolveDevice } from '../topology/input.ts';
import { parseFlags, toJson, UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform route <topology.json|lspci.txt> <provider> <client> [--bar N] [--cpu VENDOR:FAMILY|cpuinfo] [--routing classic|divergence] [--diff-routing] | route <file> --distance-many <provider> <client>...';

export interface RouteAnswer extends PairAnswer {
  readonly provider: string;
  readonly client: string;
  readonly routing: Routing;
  /** Facts the source did not state that the answer depends on (then mapType is UNKNOWN). */
  readonly missing?: readonly string[];
  readonly cases?: readonly { readonly when: readonly string[]; readonly mapType: string; readonly distance: number; readonly reason: string }[];
}

export function routingOption(v: string | undefined): Routing {
  if (v === undefined) return 'classic';
  if (!(ROUTINGS as readonly string[]).includes(v)) throw new UsageError(`--routing ${v}: expected ${ROUTINGS.join(' or ')}`);
  return v as Routing;
}

function barOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-5]$/.test(v)) throw new UsageError(`--bar ${v}: expected a BAR index 0-5`);
  return Number(v);
}

/** The route between two devices of a topology, as the command prints it. */
export function routeAnswer(t: Topology, providerName: string, clientName: string, routing: Routing = 'classic', bar?: number, cases = new Cases(t)): RouteAnswer {
  const provider = resolveDevice(t, providerName);
  const client = resolveDevice(t, clientName);
  if (!isPci(provider)) throw new UsageError(`provider '${providerName}' is not a PCI function`);
  const r = pairInCases(cases, provider.id, client.id, routing, bar);
  const head = { provider: provider.id, client: client.id, routing };
  if (r.determined) return { ...head, ...r.answer };
  const distances = new Set(r.cases.map((c) => c.answer.distance));
  return {
    ...head, ...r.answer, mapType: 'UNKNOWN', distance: distances.size === 1 ? r.answer.distance : -1,
    reason: `the answer depends on what the dump does not say: ${r.missing.join('; ')}`,
    missing: r.missing,
    cases: r.cases.map((c) => ({ when: c.when, mapType: c.answer.mapType, distance: c.answer.distance, reason: c.answer.reason })),
  };
}

/** pci_p2pdma_distance_many(provider, clients) in every case. */
export function distanceMany(t: Topology, providerName: string, clientNames: readonly string[], routing: Routing) {
  const provider = resolveDevice(t, providerName);
  const clients = clientNames.map((c) => resolveDevice(t, c).id);
  const cases = new Cases(t);
  const r = cases.answer((c) => p2pdmaDistanceMany(c.topology, provider.id, clients, c.idx, routing), String);
  return {
    provider: provider.id, clients, routing, distance: r.determined ? r.answer : null,
    ...(r.determined ? {} : { missing: r.missing, cases: r.cases.map((c) => ({ when: c.when, distance: c.answer })) }),
  };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    bar: { type: 'string' }, cpu: { type: 'string' }, routing: { type: 'string' }, 'diff-routing': { type: 'boolean' }, 'distance-many': { type: 'boolean' },
  }, USAGE);
  const many = values['distance-many'] === true;
  if (many ? positionals.length < 2 : positionals.length !== 3) throw new UsageError(USAGE);
  const [file, provider, ...clients] = positionals as [string, string, ...string[]];
  const routing = routingOption(values.routing);
  const bar = barOption(values.bar);
  const loaded = await loadInput(file, cpuOption(values.cpu));
  const t = loaded.topology;
  const notes = loaded.notes.length ? { notes: loaded.notes } : {};
  let out: unknown;
  if (many) out = { ...distanceMany(t, provider, clients, routing), ...notes };
  else if (values['diff-routing']) {
    const cases = new Cases(t);
    const [a, b] = ROUTINGS.map((r) => routeAnswer(t, provider, clients[0]!, r, bar, cases)) as [RouteAnswer, RouteAnswer];
    const differs = a.mapType !== b.mapType || a.distance !== b.distance || JSON.stringify(a.cases) !== JSON.stringify(b.cases);
    out = { provider: a.provider, client: a.client, differs, classic: a, divergence: b, ...notes };
  } else out = { ...routeAnswer(t, provider, clients[0]!, routing, bar), ...notes };
  process.stdout.write(`${toJson(out)}\n`);
  return 0;
}

/** The old entry kept for callers that hold a JSON file: a topology or a UsageError. */
export async function loadTopologyFile(file: string): Promise<Topology> {
  return (await loadInput(file)).topology;
}
