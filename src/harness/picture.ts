// The PCI picture of a counterexample whose suite is given a map type rather
// than a topology (convert, lifecycle): the smallest topology that gives that
// map type between the exporting device and the importer's device, and the
// model's route through it, for the report's topology SVG.
import { routeBetween } from '../../models/pci/p2pdma.ts';
import { parseTopology } from '../../models/pci/load.ts';
import { TopologyIndex } from '../../models/pci/topology.ts';
import type { MapType } from '../../models/pci/types.ts';
import type { RouteInfo } from '../report/types.ts';

export const EXPORTER_DEV = 'vdev0';
export const IMPORTER_DEV = 'dma-client';

/** Exporter and importer under one switch: ACS redirect on its downstream ports unless BUS_ADDR; the host bridge allow-listed only for THRU_HOST_BRIDGE. */
function topologyJson(mapType: 'BUS_ADDR' | 'THRU_HOST_BRIDGE' | 'NOT_SUPPORTED'): unknown {
  const acs = { rr: mapType !== 'BUS_ADDR', cr: mapType !== 'BUS_ADDR', ec: false };
  return {
    cpu: { vendor: 'intel', family: 6 },
    hostBridges: [{ id: 'hb0', allowList: mapType === 'THRU_HOST_BRIDGE' ? 'any' : 'none' }],
    devices: [
      { id: 'rp0', kind: 'root-port', parent: 'hb0', slot: 1 },
      { id: 'usp', kind: 'switch-upstream', parent: 'rp0' },
      { id: 'dsp0', kind: 'switch-downstream', parent: 'usp', slot: 0, acs },
      { id: 'dsp1', kind: 'switch-downstream', parent: 'usp', slot: 1, acs },
      { id: EXPORTER_DEV, kind: 'endpoint', parent: 'dsp0', p2pdma: true, bars: [{ index: 0, type: 'mem', start: '0x38000000000', size: '0x100000', busOffset: '0x0' }] },
      { id: IMPORTER_DEV, kind: 'endpoint', parent: 'dsp1' },
    ],
  };
}

/** The topology and route to draw for a map type; none for UNKNOWN (no topology gives it). */
export function pictureFor(mapType: MapType): { topology: unknown; route: RouteInfo } | Record<string, never> {
  if (mapType === 'UNKNOWN') return {};
  const topology = topologyJson(mapType);
  const parsed = parseTopology(topology);
  if (!parsed.ok) throw new Error(`picture topology: ${parsed.error}`);
  const idx = new TopologyIndex(parsed.value);
  const r = routeBetween(parsed.value, idx.device(EXPORTER_DEV)!, idx.device(IMPORTER_DEV)!, idx);
  return { topology, route: { provider: EXPORTER_DEV, client: IMPORTER_DEV, mapType: r.mapType, distance: r.distance, path: r.path, blockedBy: r.blockedBy } };
}
