// One self-contained HTML page (no network, no CDN): a summary table with
// filters, and for each violation an SVG picture of the PCI topology (route
// taken, ACS blockers highlighted) and an SVG sequence diagram of the shrunk
// counterexample (failing step highlighted with the model's expectation).
import type { Counterexample, Lane, Report, ViolationRecord } from './types.ts';

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface TopoNode { id: string; kind: string; parent?: string; acs?: { rr: boolean; cr: boolean; ec: boolean } }

function topologyNodes(t: unknown): TopoNode[] {
  const o = t as { hostBridges?: { id: string }[]; devices?: TopoNode[] } | undefined;
  return [...(o?.hostBridges ?? []).map((h) => ({ id: h.id, kind: 'host-bridge' })), ...(o?.devices ?? [])];
}

/** SVG of a topology: a tidy tree, leaves left to right, parents centred above. */
export function topologySvg(ce: Counterexample): string {
  const nodes = topologyNodes(ce.topology);
  const kids = new Map<string, TopoNode[]>();
  for (const n of nodes) if (n.parent) kids.set(n.parent, [...(kids.get(n.parent) ?? []), n]);
  const pos = new Map<string, { x: number; y: number }>();
  let nextX = 0;
  const place = (n: TopoNode, depth: number): number => {
    const cs = kids.get(n.id) ?? [];
    const x = cs.length === 0 ? nextX++ : cs.map((c) => place(c, depth + 1)).reduce((a, b) => a + b, 0) / cs.length;
    pos.set(n.id, { x, y: depth });
    return x;
  };
  for (const root of nodes.filter((n) => !n.parent)) place(root, 0);
  const W = 110, H = 70;
  const px = (id: string) => 20 + pos.get(id)!.x * W;
  const py = (id: string) => 20 + pos.get(id)!.y * H;
  const path = new Set(ce.route?.path ?? []);
  const blocked = new Set(ce.route?.blockedBy ?? []);
  const ends = new Set([ce.route?.provider, ce.route?.client]);
  const edges = nodes.filter((n) => n.parent && pos.has(n.parent)).map((n) => `<line x1="${px(n.parent!) + 45}" y1="${py(n.parent!) + 30}" x2="${px(n.id) + 45}" y2="${py(n.id)}" class="${path.has(n.id) && path.has(n.parent!) ? 'route' : 'edge'}"/>`);
  const boxes = nodes.map((n) => {
    const cls = blocked.has(n.id) ? 'acs' : ends.has(n.id) ? 'end' : path.has(n.id) ? 'onroute' : 'node';
    const acs = n.acs && (n.acs.rr || n.acs.cr || n.acs.ec) ? `<text x="${px(n.id) + 45}" y="${py(n.id) + 44}" class="small">ACS ${['rr', 'cr', 'ec'].filter((b) => n.acs![b as 'rr']).join('+')}</text>` : '';
    return `<g><rect x="${px(n.id)}" y="${py(n.id)}" width="90" height="30" rx="5" class="${cls}"/><text x="${px(n.id) + 45}" y="${py(n.id) + 19}">${htmlEscape(n.id)}</text>${acs}<title>${htmlEscape(`${n.kind} ${n.id}`)}</title></g>`;
  });
  const width = 40 + Math.max(1, nextX) * W;
  const height = 40 + (Math.max(0, ...[...pos.values()].map((p) => p.y)) + 1) * H;
  return `<svg class="topology" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="PCI topology">${edges.join('')}${boxes.join('')}</svg>`;
}

const LANES: readonly { lane: Lane[]; title: string }[] = [
  { lane: ['user', 'device'], title: 'user / device' },
  { lane: ['exporter'], title: 'exporter' },
  { lane: ['core'], title: 'dma-buf core' },
  { lane: ['importer'], title: 'importer' },
  { lane: ['iommu'], title: 'IOMMU' },
];

/** SVG sequence diagram: one arrow per step between lanes. */
export function sequenceSvg(ce: Counterexample): string {
  const LW = 150, top = 40, row = 34;
  const x = (l: Lane) => 80 + LANES.findIndex((L) => L.lane.includes(l)) * LW;
  const height = top + ce.steps.length * row + 30;
  const width = 80 + LANES.length * LW + 260;
  const lanes = LANES.map((L, i) => `<text x="${80 + i * LW}" y="20" class="lane">${L.title}</text><line x1="${80 + i * LW}" y1="28" x2="${80 + i * LW}" y2="${height - 10}" class="lifeline"/>`);
  const steps = ce.steps.map((s, i) => {
    const y = top + i * row;
    const [x1, x2] = [x(s.from), x(s.to)];
    const fail = i === ce.failingStep;
    const self = x1 === x2;
    const arrow = self ? `<path d="M${x1} ${y} h30 v12 h-30" class="${fail ? 'failarrow' : 'arrow'}" fill="none"/>` : `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" class="${fail ? 'failarrow' : 'arrow'}" marker-end="url(#head)"/>`;
    const label = `<text x="${Math.min(x1, x2) + 6}" y="${y - 5}" class="step">${i + 1}. ${htmlEscape(s.command)} → ${htmlEscape(s.result)}</text>`;
    const beside = fail ? `<text x="${80 + LANES.length * LW - 40}" y="${y + 4}" class="expect">model: ${htmlEscape(s.expected)}${s.rule ? ` · ${s.rule}` : ''}</text>` : '';
    return `<g class="${fail ? 'failing' : ''}">${fail ? `<rect x="4" y="${y - 20}" width="${width - 8}" height="${row - 4}" class="failrow"/>` : ''}${arrow}${label}${beside}</g>`;
  });
  return `<svg class="sequence" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="sequence of the counterexample"><defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>${lanes.join('')}${steps.join('')}</svg>`;
}

function violationSection(v: ViolationRecord): string {
  const fam = v.rule.split('-')[0]!;
  return `<section class="violation" data-impl="${htmlEscape(v.implementation)}" data-family="${fam}" data-status="${v.known ? 'known' : 'violation'}" id="${htmlEscape(v.id)}">
<h3>${v.known ? '' : '<span class="new">NEW</span> '}${v.rule} — ${htmlEscape(v.implementation)}</h3>
<p>${htmlEscape(v.message)}</p>
${v.counterexample.topology ? `<div class="pic">${topologySvg(v.counterexample)}</div>` : ''}
<div class="pic">${sequenceSvg(v.counterexample)}</div>
<p class="replay"><code>${htmlEscape(v.replay)}</code> · fingerprint <code>${v.fingerprint}</code></p>
</section>`;
}

const CSS = `body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}
tr.violation td.st{background:#fdd}tr.known td.st{background:#ffd}tr.pass td.st{background:#dfd}.filters select{margin-right:12px}
section.violation{border-top:2px solid #ccc;margin-top:18px}.new{color:#fff;background:#c00;padding:0 4px;border-radius:3px}
svg text{font:11px system-ui,sans-serif;text-anchor:middle}svg text.step,svg text.expect{text-anchor:start}svg text.lane{font-weight:bold}
.node{fill:#eef;stroke:#669}.onroute{fill:#cfc;stroke:#393}.end{fill:#9cf;stroke:#036}.acs{fill:#f99;stroke:#c00;stroke-width:2}
.edge{stroke:#999}.route{stroke:#393;stroke-width:3}.lifeline{stroke:#bbb;stroke-dasharray:4 3}.arrow{stroke:#333}.failarrow{stroke:#c00;stroke-width:2}
.failrow{fill:#fee}.expect{fill:#c00;font-weight:bold}.small{font-size:9px;fill:#c00}.pic{overflow-x:auto;margin:8px 0}`;

const SCRIPT = `(function(){
var sel=function(id){return document.getElementById(id)};
function apply(){var i=sel('f-impl').value,f=sel('f-family').value,s=sel('f-status').value;
document.querySelectorAll('[data-impl]').forEach(function(el){
var ok=(!i||el.dataset.impl===i)&&(!f||el.dataset.family===f)&&(!s||el.dataset.status===s);el.style.display=ok?'':'none';});
sel('shown').textContent=String(document.querySelectorAll('section.violation:not([style*="none"])').length);}
['f-impl','f-family','f-status'].forEach(function(id){sel(id).addEventListener('change',apply)});apply();})();`;

export function renderHtml(r: Report): string {
  const impls = [...new Set(r.results.map((x) => x.implementation))];
  const fams = [...new Set(r.results.map((x) => x.rule.split('-')[0]!))];
  const opt = (vals: string[]) => ['<option value="">all</option>', ...vals.map((v) => `<option>${htmlEscape(v)}</option>`)].join('');
  const rows = r.results.filter((x) => x.status !== 'not-applicable').map((x) => `<tr class="${x.status}" data-impl="${htmlEscape(x.implementation)}" data-family="${x.rule.split('-')[0]}" data-status="${x.status}"><td>${htmlEscape(x.implementation)}</td><td>${x.rule}</td><td>${x.runs}</td><td class="st">${x.status}</td><td>${x.violations.map((id) => `<a href="#${htmlEscape(id)}">${htmlEscape(id)}</a>`).join(' ')}</td></tr>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dmabuf-conform report</title><style>${CSS}</style></head>
<body>
<h1>dmabuf-conform report</h1>
<p>Seed ${r.seed} · profiles ${r.profiles.join(', ')} · ${r.summary.checks} checks · <b>${r.summary.new} new</b> · ${r.summary.known} known · <span id="shown"></span> violations shown</p>
<div class="filters">implementation <select id="f-impl">${opt(impls)}</select> family <select id="f-family">${opt(fams)}</select> status <select id="f-status">${opt(['violation', 'known', 'pass'])}</select></div>
<table><thead><tr><th>implementation</th><th>rule</th><th>runs</th><th>status</th><th>violations</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
${r.violations.map(violationSection).join('\n')}
<script>${SCRIPT}</script>
</body></html>
`;
}
