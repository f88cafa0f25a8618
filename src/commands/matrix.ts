// dmabuf-conform matrix <topology.json|lspci.txt>: pci_p2pdma_map_type()
// and distance for every pair of endpoints, as a text table with a legend,
// as JSON (--json), as an SVG picture (--svg), or as a self-contained HTML
// page with the picture, the table and its notes (--html); --diff-routing lists the
// pairs whose answer changes between the classic and divergence variants.
import { Cases } from '../topology/cases.ts';
import { cpuOption, loadInput, resolveDevice } from '../topology/input.ts';
import { buildMatrix, diffRouting, matrixDevices, matrixText } from '../topology/matrix.ts';
import { matrixSvg } from '../topology/matrix-svg.ts';
import { routingOption } from './route.ts';
import { parseFlags, toJson, UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform matrix <topology.json|lspci.txt> [--devices A,B,...] [--cpu VENDOR:FAMILY|cpuinfo] [--routing classic|divergence] [--diff-routing] [--json|--svg|--html]';

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    devices: { type: 'string' }, cpu: { type: 'string' }, routing: { type: 'string' }, 'diff-routing': { type: 'boolean' }, json: { type: 'boolean' }, svg: { type: 'boolean' }, html: { type: 'boolean' },
  }, USAGE);
  if (positionals.length !== 1) throw new UsageError(USAGE);
  if ([values.json, values.svg, values.html].filter(Boolean).length > 1) throw new UsageError(`--json, --svg and --html exclude each other (${USAGE})`);
  const routing = routingOption(values.routing);
  const { topology: t, notes } = await loadInput(positionals[0]!, cpuOption(values.cpu));
  const devices = values.devices ? values.devices.split(',').filter((s) => s !== '').map((n) => resolveDevice(t, n.trim())) : matrixDevices(t);
  if (devices.length === 0) throw new UsageError(`${positionals[0]}: no endpoint devices to put in a matrix`);
  if (values['diff-routing']) {
    const d = diffRouting(t, devices);
    if (values.json) process.stdout.write(`${toJson(d)}\n`);
    else {
      const lines = d.changes.map((c) => `${c.provider} -> ${c.client}: classic ${c.classic}, divergence ${c.divergence}\n    classic: ${c.classicReason}\n    divergence: ${c.divergenceReason}`);
      process.stdout.write(`${d.changed} of ${d.pairs} pairs change between classic and divergence routing${lines.length ? `:\n${lines.join('\n')}` : ''}\n`);
    }
    return 0;
  }
  const m = buildMatrix(t, devices, routing, new Cases(t));
  if (values.json) process.stdout.write(`${toJson({ ...m, ...(notes.length ? { notes } : {}) })}\n`);
  else if (values.svg) process.stdout.write(`${matrixSvg(m)}\n`);
  else if (values.html) process.stdout.write(matrixHtml(positionals[0]!, matrixSvg(m), matrixText(m), notes));
  else process.stdout.write(`${matrixText(m)}${notes.length ? `\n\nNotes:\n${notes.map((n) => `  - ${n}`).join('\n')}` : ''}\n`);
  return 0;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One self-contained page: the picture, then the text table (with its legend) and what the input did not say. */
export function matrixHtml(source: string, svg: string, text: string, notes: readonly string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>p2pdma matrix: ${escape(source)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head>
<body><h1>pci_p2pdma_map_type() for every pair</h1><p>${escape(source)}</p>
${svg}
<h2>Table</h2><pre>${escape(text)}</pre>
${notes.length ? `<h2>What the input does not say</h2><ul>${notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
