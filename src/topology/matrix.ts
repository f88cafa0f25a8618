// The P2P matrix: pci_p2pdma_map_type() and distance for every ordered pair
// of endpoints (the p2pdma counterpart of `nvidia-smi topo -m`), in every
// case of what the topology's source left out; and the pairs whose answer
// differs between the routing variants.
import type { Device, Topology } from '../../models/pci/topology.ts';
import type { MapType } from '../../models/pci/types.ts';
import { ROUTINGS, type Routing } from '../../models/pci/routing.ts';
import { pairInCases } from './answer.ts';
import { Cases } from './cases.ts';
import { shortId } from './input.ts';

export interface MatrixCell {
  readonly provider: string;
  readonly client: string;
  /** The map types over the cases (one when the source said enough). */
  readonly mapTypes: readonly MapType[];
  readonly distance: number;
  readonly reason: string;
  readonly missing?: readonly string[];
}

export interface Matrix {
  readonly routing: Routing;
  readonly devices: readonly string[];
  /** cells[i][j]: provider devices[i], client devices[j]. */
  readonly cells: readonly (readonly MatrixCell[])[];
}

/** Endpoint functions, host-bridge and bridge class functions left out. */
export function matrixDevices(t: Topology): Device[] {
  return t.devices.filter((d) => d.kind === 'endpoint' && !(d.pciClass ?? '').startsWith('06'));
}

export function buildMatrix(t: Topology, devices: readonly Device[], routing: Routing, cases = new Cases(t)): Matrix {
  const cells = devices.map((p) => devices.map((c): MatrixCell => {
    const r = pairInCases(cases, p.id, c.id, routing);
    const mapTypes = [...new Set(r.cases.map((x) => x.answer.mapType))];
    return { provider: p.id, client: c.id, mapTypes, distance: r.answer.distance, reason: r.answer.reason, ...(r.determined ? {} : { missing: r.missing }) };
  }));
  return { routing, devices: devices.map((d) => d.id), cells };
}

const ABBR: Record<MapType, string> = { BUS_ADDR: 'BUS', THRU_HOST_BRIDGE: 'HB', NOT_SUPPORTED: 'X', UNKNOWN: '?' };

export function cellText(c: MatrixCell): string {
  const t = c.mapTypes.map((m) => ABBR[m]).join('|');
  return c.mapTypes.length === 1 && c.mapTypes[0] === 'NOT_SUPPORTED' ? t : `${t}${c.distance >= 0 ? `(${c.distance})` : ''}`;
}

export const LEGEND = [
  'Legend (row: provider, the BAR owner; column: client; pci_p2pdma_map_type() and distance):',
  '  BUS(n) = BUS_ADDR: peer-to-peer below a common switch or bridge, no ACS port redirects',
  '  HB(n)  = THRU_HOST_BRIDGE: through the root complex, allowed by the CPU or the host-bridge allow list',
  '  X      = NOT_SUPPORTED: through the host bridge, and neither the CPU nor the allow list allows it',
  '  A|B    = depends on what the input does not say (listed below); n = distance (hops to the common bridge, both sides)',
];

/** The text table with its legend and what it depends on. */
export function matrixText(m: Matrix, label: (id: string) => string = shortId): string {
  const names = m.devices.map(label);
  const rows = m.cells.map((row) => row.map(cellText));
  const w = Math.max(...names.map((n) => n.length), ...rows.flat().map((c) => c.length), 4);
  const pad = (s: string) => s.padEnd(w);
  const lines = [[' '.repeat(w), ...names.map(pad)].join('  ').trimEnd(), ...rows.map((r, i) => [pad(names[i]!), ...r.map(pad)].join('  ').trimEnd())];
  const missing = [...new Set(m.cells.flat().flatMap((c) => c.missing ?? []))];
  return [`routing: ${m.routing}`, ...lines, '', ...LEGEND, ...(missing.length ? ['', 'Depends on:', ...missing.map((x) => `  - ${x}`)] : [])].join('\n');
}

/** The pairs whose answer differs between the variants, with both reasons. */
export function diffRouting(t: Topology, devices: readonly Device[]) {
  const cases = new Cases(t);
  const [a, b] = ROUTINGS.map((r) => buildMatrix(t, devices, r, cases)) as [Matrix, Matrix];
  const changes = a.cells.flatMap((row, i) => row.flatMap((x, j) => {
    const y = b.cells[i]![j]!;
    return cellText(x) === cellText(y) ? [] : [{ provider: x.provider, client: x.client, classic: cellText(x), divergence: cellText(y), classicReason: x.reason, divergenceReason: y.reason }];
  }));
  return { pairs: devices.length ** 2, changed: changes.length, changes };
}
