// The PCI picture of a counterexample whose suite is given a map type rather
// than a topology (convert, lifecycle): the smallest topology that gives that
// map type between the exporting device and the importer's device, and the
// model's route through it, for the report's topology SVG.
import { routeBetween } from '../../models/pci/p2pdma.ts';
import { parseTopology } from '../../models/pci/load.ts';
import { TopologyIndex } from '../../models/pci/topology.ts';
import type { Bar, MapType } from '../../models/pci/types.ts';
import { hex } from '../../models/u64.ts';
import type { RouteInfo } from '../report/types.ts';

export const EXPORTER_DEV = 'vdev0';
export const IMPORTER_DEV = 'dma-client';

/** What the exporting device of a counterexample was given: its BAR layout and whether p2pdma was set up. */
export interface ExporterFacts {
  readonly bars: readonly Bar[];
  readonly p2pdma?: boolean;
}

const DEFAULT_FACTS: ExporterFacts = { bars: [{ index: 0, type: 'mem', start: 0x38000000000n, size: 0x100000n, busOffset: 0n }] };

/** Exporter and importer under one switch: ACS redirect on its downstream ports unless BUS_ADDR; the host bridge allow-listed only for THRU_HOST_BRIDGE. */
function topologyJson(mapType: 'BUS_ADDR' | 'THRU_HOST_BRIDGE' | 'NOT_SUPPORTED', facts: ExporterFacts): unknown {
  const bars = facts.bars.map((b) => ({ index: b.index, type: b.type, start: hex(b.start), size: hex(b.size), busOffset: hex(b.busOffset), ...(b.mappable === false ? { mappable: false } : {}) }));
  const acs = { rr: mapType !== 'BUS_ADDR', cr: mapType !== 'BUS_ADDR', ec: false };
  return {
    cpu: { vendor: 'intel', family: 6 },
    hostBridges: [{ id: 'hb0', allowList: mapType === 'THRU_HOST_BRIDGE' ? 'any' : 'none' }],
    devices: [
      { id: 'rp0', kind: 'root-port', parent: 'hb0', slot: 1 },
      { id: 'usp', kind: 'switch-upstream', parent: 'rp0' },
      { id: 'dsp0', kind: 'switch-downstream', parent: 'usp', slot: 0, acs },
      { id: 'dsp1', kind: 'switch-downstream', parent: 'usp', slot: 1, acs },
      { id: EXPORTER_DEV, kind: 'endpoint', parent: 'dsp0', p2pdma: facts.p2pdma !== false, bars },
      { id: IMPORTER_DEV, kind: 'endpoint', parent: 'dsp1' },
    ],
  };
}

/** The topology and route to draw for a map type, with the exporter's own BARs and p2pdma fact when the
 *  counterexample has them (a lifecycle setup); none for UNKNOWN (no topology gives it). */
export function pictureFor(mapType: MapType, facts: ExporterFacts = DEFAULT_FACTS): { topology: unknown; route: RouteInfo } | Record<string, never> {
  if (mapType === 'UNKNOWN') return {};
  const topology = topologyJson(mapType, facts);
  const parsed = parseTopology(topology);
  if (!parsed.ok) throw new Error(`picture topology: ${parsed.error}`);
  const idx = new TopologyIndex(parsed.value);
  const r = routeBetween(parsed.value, idx.device(EXPORTER_DEV)!, idx.device(IMPORTER_DEV)!, idx);
  return { topology, route: { provider: EXPORTER_DEV, client: IMPORTER_DEV, mapType: r.mapType, distance: r.distance, path: r.path, blockedBy: r.blockedBy } };
}
