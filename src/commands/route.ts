// dmabuf-conform route <topology.json> <provider> <client>: the p2pdma map
// type and distance between two devices, the path, and the ports whose ACS
// redirect bits forced the transfer through the host bridge.
import { readFileSync } from 'node:fs';
import { parseTopologyText } from '../../models/pci/load.ts';
import { cpuSupportsP2pdma, hostBridgesAllowed, routeBetween, type Route } from '../../models/pci/p2pdma.ts';
import { isPci, TopologyIndex, type Topology } from '../../models/pci/topology.ts';
import { UsageError, toJson } from './usage.ts';

export interface RouteAnswer {
  readonly mapType: Route['mapType'];
  readonly distance: number;
  readonly path: readonly string[];
  readonly blockedBy: readonly string[];
  readonly reason: string;
}

export function loadTopologyFile(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read topology file '${file}'`);
  }
  const parsed = parseTopologyText(text);
  if (!parsed.ok) throw new UsageError(`${file}: ${parsed.error}`);
  return parsed.value;
}

function explain(t: Topology, idx: TopologyIndex, r: Route, providerId: string, clientId: string): string {
  if (r.mapType === 'BUS_ADDR') return `peer-to-peer below ${r.common}: no ACS redirect on the path`;
  const why = r.common ? `ACS redirect on ${r.blockedBy.join(', ')}` : 'no common upstream bridge';
  const allowed = cpuSupportsP2pdma(t) ? 'the CPU supports P2P through the host bridge' : hostBridgesAllowed(idx, idx.device(providerId)!, idx.device(clientId)!) ? 'the host bridge(s) are on the allow list' : 'the CPU does not support P2P and the host bridge(s) are not allowed';
  return `${why}; ${allowed}`;
}

/** The route between two devices of a topology, as the command prints it. */
export function routeAnswer(t: Topology, providerId: string, clientId: string): RouteAnswer {
  const idx = new TopologyIndex(t);
  const provider = idx.device(providerId);
  const client = idx.device(clientId);
  if (!provider) throw new UsageError(`no device '${providerId}' in the topology`);
  if (!client) throw new UsageError(`no device '${clientId}' in the topology`);
  if (!isPci(provider)) throw new UsageError(`provider '${providerId}' is not a PCI function`);
  if (!isPci(client)) return { mapType: 'NOT_SUPPORTED', distance: -1, path: [], blockedBy: [], reason: `client '${clientId}' is not a PCI device` };
  const r = routeBetween(t, provider, client, idx);
  return { mapType: r.mapType, distance: r.distance, path: r.path, blockedBy: r.mapType === 'BUS_ADDR' || !r.common ? [] : r.blockedBy, reason: explain(t, idx, r, providerId, clientId) };
}

export async function run(args: string[]): Promise<number> {
  if (args.length !== 3 || args.some((a) => a.startsWith('-'))) throw new UsageError('usage: dmabuf-conform route <topology.json> <provider> <client>');
  const [file, provider, client] = args as [string, string, string];
  process.stdout.write(`${toJson(routeAnswer(loadTopologyFile(file), provider, client))}\n`);
  return 0;
}
