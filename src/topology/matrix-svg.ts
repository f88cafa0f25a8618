// The P2P matrix as a picture for the HTML report: one coloured cell per
// (provider, client) pair with its map type and distance, the reason as a
// tooltip, and a legend. Self-contained SVG (no script, no external CSS).
import type { MapType } from '../../models/pci/types.ts';
import { cellText, type Matrix } from './matrix.ts';
import { shortId } from './input.ts';

const FILL: Record<MapType, string> = { BUS_ADDR: '#b7e4c7', THRU_HOST_BRIDGE: '#ffe8a3', NOT_SUPPORTED: '#f4b6b6', UNKNOWN: '#d9d9d9' };
const CELL = 64;
const ROW_H = 24;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An SVG of the matrix; `label` names a device (short BDF by default). */
export function matrixSvg(m: Matrix, label: (id: string) => string = shortId): string {
  const names = m.devices.map(label);
  const left = Math.max(60, ...names.map((n) => n.length * 7 + 12));
  const top = Math.max(60, ...names.map((n) => n.length * 6 + 16));
  const width = left + names.length * CELL + 20;
  const legendY = top + names.length * ROW_H + 20;
  const height = legendY + 70;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="p2p-matrix" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11" role="img" aria-label="P2P matrix, ${m.routing} routing">`);
  out.push(`<title>P2P matrix (${esc(m.routing)} routing): rows are providers, columns clients</title>`);
  names.forEach((n, j) => out.push(`<text x="${left + j * CELL + CELL / 2}" y="${top - 6}" transform="rotate(-45 ${left + j * CELL + CELL / 2} ${top - 6})">${esc(n)}</text>`));
  m.cells.forEach((row, i) => {
    const y = top + i * ROW_H;
    out.push(`<text x="${left - 6}" y="${y + 16}" text-anchor="end">${esc(names[i]!)}</text>`);
    row.forEach((c, j) => {
      const fill = c.mapTypes.length === 1 ? FILL[c.mapTypes[0]!] : FILL.UNKNOWN;
      const tip = `${label(c.provider)} → ${label(c.client)}: ${c.mapTypes.join(' or ')}${c.distance >= 0 ? `, distance ${c.distance}` : ''}. ${c.reason}${c.missing ? ` Depends on: ${c.missing.join('; ')}` : ''}`;
      out.push(`<g class="cell"><title>${esc(tip)}</title><rect x="${left + j * CELL}" y="${y}" width="${CELL - 2}" height="${ROW_H - 2}" fill="${fill}" stroke="#888"/><text x="${left + j * CELL + CELL / 2 - 1}" y="${y + 15}" text-anchor="middle">${esc(cellText(c))}</text></g>`);
    });
  });
  const items: [MapType, string][] = [['BUS_ADDR', 'BUS: BUS_ADDR (below a switch)'], ['THRU_HOST_BRIDGE', 'HB: THRU_HOST_BRIDGE'], ['NOT_SUPPORTED', 'X: NOT_SUPPORTED'], ['UNKNOWN', 'A|B: depends on a fact the input leaves out']];
  items.forEach(([k, text], n) => {
    const x = 10 + (n % 2) * 300;
    const y = legendY + Math.floor(n / 2) * 22;
    out.push(`<rect x="${x}" y="${y}" width="14" height="14" fill="${FILL[k]}" stroke="#888"/><text x="${x + 20}" y="${y + 11}">${esc(text)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
