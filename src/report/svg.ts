// The two pictures of a violation, as inline SVG: the PCI topology (root
// complex, host bridges, switches, endpoints; the route taken; ACS
// blockers) and the sequence diagram of the shrunk counterexample (lanes
// user/device, exporter, dma-buf core, importer, IOMMU; the failing step
// highlighted with the model's expectation beside it). Every string from the
// report is escaped.
import { parseTopology } from '../../models/pci/load.ts';
import { routeBetween } from '../../models/pci/p2pdma.ts';
import { TopologyIndex, type Device, type Topology } from '../../models/pci/topology.ts';
import { sanitize } from './text.ts';
import type { Counterexample, Lane, RouteInfo, Step } from './types.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value in HTML/SVG. */
export function htmlEscape(s: string): string {
  return sanitize(s).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Rough width of 11px sans-serif text: enough to size boxes and columns. */
const CHAR_W = 6.4;
/** The same for bold text. */
const BOLD_W = 7.2;

function clip(s: string, chars: number): string {
  const cs = [...s];
  return cs.length <= chars ? s : `${cs.slice(0, Math.max(1, chars - 1)).join('')}…`;
}

function text(x: number, y: number, s: string, cls = '', max = 1000): string {
  return `<text x="${x}" y="${y}"${cls ? ` class="${cls}"` : ''}>${htmlEscape(clip(s, max))}</text>`;
}

// ---------------------------------------------------------------- topology

const RC = '\u0000root-complex';
const NW = 118, NH = 50, HGAP = 14, VGAP = 42, MARGIN = 16, LEGEND = 34;

const KIND: Record<Device['kind'], string> = {
  'root-port': 'root port', 'switch-upstream': 'switch upstream', 'switch-downstream': 'switch downstream',
  bridge: 'PCI bridge', endpoint: 'endpoint', platform: 'platform device',
};

interface Node {
  readonly id: string;
  readonly parent?: string;
  readonly lines: readonly string[];
  readonly title: string;
}

function nodesOf(t: Topology): Node[] {
  const acsText = (d: Device) => (d.acs ? `ACS ${(['rr', 'cr', 'ec'] as const).filter((b) => d.acs![b]).map((b) => b.toUpperCase()).join(' ') || 'off'}` : '');
  return [
    { id: RC, lines: ['root complex', `CPU ${t.cpu.vendor} 0x${t.cpu.family.toString(16)}`], title: `root complex, CPU ${t.cpu.vendor} family 0x${t.cpu.family.toString(16)}` },
    ...t.hostBridges.map((h) => ({ id: h.id, parent: RC, lines: [h.id, 'host bridge', `allow-list: ${h.allowList}`], title: `host bridge ${h.id}, allow-list ${h.allowList}` })),
    ...t.devices.map((d) => ({
      id: d.id, parent: d.parent,
      lines: [d.id, `${KIND[d.kind]}${d.p2pdma ? ' · p2p' : ''}`, acsText(d)].filter((l) => l !== ''),
      title: `${KIND[d.kind]} ${d.id} (slot ${d.slot}, function ${d.function})${d.p2pdma ? ', p2pdma provider' : ''}${d.acs ? `, ${acsText(d)}` : ', no ACS capability'}`,
    })),
  ];
}

/** A tidy tree: leaves left to right, each parent centred over its children. */
function layout(nodes: readonly Node[]): { pos: Map<string, { x: number; y: number }>; cols: number; rows: number } {
  const kids = new Map<string, Node[]>();
  for (const n of nodes) if (n.parent !== undefined) kids.set(n.parent, [...(kids.get(n.parent) ?? []), n]);
  const pos = new Map<string, { x: number; y: number }>();
  let next = 0;
  let rows = 0;
  const place = (n: Node, depth: number): number => {
    const cs = (kids.get(n.id) ?? []).filter((c) => !pos.has(c.id));
    pos.set(n.id, { x: 0, y: depth });
    const x = cs.length === 0 ? next++ : cs.map((c) => place(c, depth + 1)).reduce((a, b) => a + b, 0) / cs.length;
    pos.set(n.id, { x, y: depth });
    rows = Math.max(rows, depth + 1);
    return x;
  };
  place(nodes[0]!, 0);
  for (const n of nodes) if (!pos.has(n.id)) place(n, 1);
  return { pos, cols: Math.max(1, next), rows };
}

/** The route the picture shows: the report's, or the model's (routeBetween) when the report left it empty. */
export function routePath(t: Topology, route: RouteInfo): readonly string[] {
  if (route.path.length > 0) return route.path;
  const idx = new TopologyIndex(t);
  const [p, c] = [idx.device(route.provider), idx.device(route.client)];
  return p && c ? routeBetween(t, p, c, idx).path : [];
}

function routeEdges(t: Topology, path: readonly string[]): Set<string> {
  const bridges = new Set(t.hostBridges.map((h) => h.id));
  const edges = new Set<string>();
  path.forEach((id, i) => {
    const next = path[i + 1];
    if (next === undefined) return;
    if (bridges.has(id) && bridges.has(next)) edges.add(`${RC}|${id}`).add(`${RC}|${next}`);
    else edges.add(`${id}|${next}`).add(`${next}|${id}`);
  });
  return edges;
}

function legend(y: number): string {
  const item = (x: number, cls: string, label: string) => `<rect x="${x}" y="${y}" width="14" height="10" rx="2" class="${cls}"/>${text(x + 18, y + 9, label, 'legend')}`;
  return `<g class="legend">${item(MARGIN, 'tnode end', 'provider / client')}${item(MARGIN + 130, 'tnode onroute', 'on the route')}${item(MARGIN + 240, 'tnode acs', 'ACS redirect (blocks P2P)')}<line x1="${MARGIN + 420}" y1="${y + 5}" x2="${MARGIN + 446}" y2="${y + 5}" class="tedge route"/>${text(MARGIN + 452, y + 9, 'route taken', 'legend')}</g>`;
}

/** SVG of the topology, or null when the counterexample has none (or it does not load). */
export function topologySvg(ce: Counterexample): string | null {
  if (ce.topology === undefined) return null;
  const parsed = parseTopology(ce.topology);
  if (!parsed.ok) return null;
  const t = parsed.value;
  const nodes = nodesOf(t);
  const { pos, cols, rows } = layout(nodes);
  const path = ce.route ? routePath(t, ce.route) : [];
  const onRoute = new Set(path);
  if (t.hostBridges.filter((h) => onRoute.has(h.id)).length > 1) onRoute.add(RC);
  const edges = routeEdges(t, path);
  const blocked = new Set(ce.route?.blockedBy ?? []);
  const ends = new Map<string, string>();
  if (ce.route) {
    ends.set(ce.route.client, 'client');
    ends.set(ce.route.provider, ce.route.provider === ce.route.client ? 'provider = client' : 'provider');
  }
  const at = (id: string) => {
    const p = pos.get(id)!;
    return { x: MARGIN + p.x * (NW + HGAP), y: MARGIN + 12 + p.y * (NH + VGAP) };
  };
  const lines = nodes.filter((n) => n.parent !== undefined && pos.has(n.parent)).map((n) => {
    const [a, b] = [at(n.parent!), at(n.id)];
    const cls = edges.has(`${n.parent}|${n.id}`) ? 'tedge route' : 'tedge';
    return `<line x1="${a.x + NW / 2}" y1="${a.y + NH}" x2="${b.x + NW / 2}" y2="${b.y}" class="${cls}"/>`;
  });
  const boxes = nodes.map((n) => {
    const { x, y } = at(n.id);
    const cls = blocked.has(n.id) ? 'acs' : ends.has(n.id) ? 'end' : onRoute.has(n.id) ? 'onroute' : n.id === RC ? 'rc' : '';
    const tag = ends.has(n.id) ? text(x + NW - 2, y - 4, ends.get(n.id)!, 'tag') : '';
    const body = n.lines.map((l, i) => text(x + NW / 2, y + 15 + i * 13, l, i === 0 ? 'tid' : 'tsub', 18)).join('');
    return `<g class="tnode-g"><title>${htmlEscape(n.title)}${blocked.has(n.id) ? ' — ACS redirect on the route' : ''}</title><rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="6" class="tnode ${cls}"/>${tag}${body}</g>`;
  });
  const width = Math.max(2 * MARGIN + cols * (NW + HGAP), 620);
  const height = MARGIN + 12 + rows * (NH + VGAP) + LEGEND;
  return `<svg class="topology" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="PCI topology with the route taken">${lines.join('')}${boxes.join('')}${legend(height - LEGEND + 4)}</svg>`;
}

// ---------------------------------------------------------------- sequence

const LANES: readonly { readonly lanes: readonly Lane[]; readonly title: string }[] = [
  { lanes: ['user', 'device'], title: 'user / device' },
  { lanes: ['exporter'], title: 'exporter' },
  { lanes: ['core'], title: 'dma-buf core' },
  { lanes: ['importer'], title: 'importer' },
  { lanes: ['iommu'], title: 'IOMMU' },
];
const LEFT = 96, LW = 150, TOP = 56, ROW = 40;

function laneX(l: Lane): number {
  return LEFT + Math.max(0, LANES.findIndex((L) => L.lanes.includes(l))) * LW;
}

/** The step's result is the model's (the route suite writes 'as model' / 'as port' on agreeing steps). */
function agrees(s: Step): boolean {
  return s.result === s.expected || (s.rule === undefined && (s.result === 'as model' || s.expected === 'as port'));
}

/** What went wrong at the failing step, in words: the result against the model's, or, when the
 *  step returned what the model expects, the violation's own message (the difference is elsewhere:
 *  `att0 got 0 move_notify call(s) in close(buf0), the model says 2`). */
export function failingText(s: Step, why: string | undefined): string {
  if (s.result !== s.expected || !why) return `got ${s.result}, the model expects ${s.expected}`;
  return `it returned ${s.result} as the model expects, but ${why}`;
}

/** Up to `n` lines of at most `w` characters, cut at spaces; the last one clipped with an ellipsis. */
function wrap(s: string, w: number, n: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line && [...line].length + 1 + [...word].length > w) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out.length <= n ? out : [...out.slice(0, n - 1), clip(out.slice(n - 1).join(' '), w)];
}

/** The text beside a step: the verdict on the failing one, else what it returned. */
function sideLines(s: Step, fail: boolean, why: string | undefined): string[] {
  if (fail && (s.result !== s.expected || !why)) return [`✗ ${s.rule ?? 'rule broken here'}`, `model expects: ${s.expected}`, `got: ${s.result}`];
  if (fail) return [`✗ ${s.rule ?? 'rule broken here'} · returned ${s.result} as the model expects, but:`, ...wrap(why!, SIDE_CHARS, 2)];
  return [`${s.rule ? `⚠ ${s.rule} · ` : ''}got ${s.result}${agrees(s) ? '' : ` · model ${s.expected}`}`];
}

const SIDE_CHARS = 72;
const MARKER = (id: string, cls: string) => `<marker id="${id}" viewBox="0 0 10 10" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" refX="9" refY="5" orient="auto"><path d="M0,0 L10,5 L0,10 z" class="${cls}"/></marker>`;

/**
 * SVG sequence diagram: one arrow per step, the failing step in red with the model's expectation beside it.
 * @param uid prefix of the SVG ids (arrow heads), unique in the page
 * @param why the violation's message: shown at the failing step when its result is the model's,
 *   so the picture says what differed (a count, a state) instead of "got ok / model expects ok"
 */
export function sequenceSvg(ce: Counterexample, uid = 'seq', why?: string): string {
  const [head, headFail] = [`${uid}-head`, `${uid}-headfail`];
  const rightX = LEFT + (LANES.length - 1) * LW + 50;
  const sides = ce.steps.map((s, i) => sideLines(s, i === ce.failingStep, why));
  const rightChars = Math.min(SIDE_CHARS, Math.max(20, ...sides.flat().map((l) => [...l].length)));
  const width = Math.round(rightX + rightChars * BOLD_W + 16);
  const height = TOP + ce.steps.length * ROW + 12;
  const heads = LANES.map((L, i) => {
    const x = LEFT + i * LW;
    return `<rect x="${x - 56}" y="8" width="112" height="24" rx="4" class="lanehead"/>${text(x, 24, L.title, 'lane')}<line x1="${x}" y1="32" x2="${x}" y2="${height - 6}" class="lifeline"/>`;
  });
  const rows = ce.steps.map((s, i) => {
    const y = TOP + i * ROW + 18;
    const [x1, x2] = [laneX(s.from), laneX(s.to)];
    const fail = i === ce.failingStep;
    const cls = fail ? 'arrow fail' : s.rule ? 'arrow warn' : 'arrow';
    const end = `marker-end="url(#${fail ? headFail : head})"`;
    const arrow = x1 === x2
      ? `<path d="M${x1} ${y - 4} h36 v10 h-34" class="${cls}" ${end}/>`
      : `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" class="${cls}" ${end}/>`;
    const labelX = Math.min(x1, x2) + 6;
    const label = text(labelX, y - 6, s.command, fail ? 'cmd failcmd' : 'cmd', Math.floor((rightX - labelX - 12) / CHAR_W));
    const side = fail
      ? sides[i]!.map((l, k) => text(rightX, y - 8 + k * 13, l, ['verdict', 'expect', 'got'][k], SIDE_CHARS)).join('')
      : text(rightX, y - 2, sides[i]![0]!, s.rule || !agrees(s) ? 'side warn' : 'side', SIDE_CHARS);
    const band = fail ? `<rect x="2" y="${y - 22}" width="${width - 4}" height="${ROW}" rx="4" class="failrow"/>` : '';
    return `<g class="step${fail ? ' failing' : ''}"><title>${htmlEscape(`step ${i + 1}: ${s.from} → ${s.to}: ${s.command} → ${s.result} (model: ${s.expected})${s.rule ? ` [${s.rule}]` : ''}${fail && why ? `: ${why}` : ''}`)}</title>${band}${text(14, y + 4, `${i + 1}`, 'num')}${arrow}${label}${side}</g>`;
  });
  const defs = `<defs>${MARKER(head, 'headfill')}${MARKER(headFail, 'headfail')}</defs>`;
  return `<svg class="sequence" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="sequence diagram of the counterexample">${defs}${heads.join('')}${rows.join('')}</svg>`;
}
