// Plain-text tables for the terminal: a title, a header row and aligned
// columns (a column of figures right-aligned, any other left-aligned).

/** A figure, a median / max pair, a ratio or a found count ("10/10 race"), or a dash (none). */
const isFigure = (s: string): boolean => /^(≥ )?\d[\d,./ ×]*( race)?$/.test(s) || s === '-';

export function table(title: string, header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (r: readonly string[], i: number) => r[i] ?? '';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => cell(r, i).length)));
  const right = header.map((_, i) => rows.some((r) => cell(r, i) !== '') && rows.every((r) => cell(r, i) === '' || isFigure(cell(r, i))));
  const line = (cells: readonly string[]) => header.map((_, i) => (right[i] ? cell(cells, i).padStart(widths[i]!) : cell(cells, i).padEnd(widths[i]!))).join('  ').trimEnd();
  return [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** 1234567 → "1,234,567"; fractions keep `digits` decimals. */
export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
