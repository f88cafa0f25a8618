// One self-contained HTML page (inline CSS and JS; a Content-Security-Policy
// that forbids every fetch): the summary (implementations × rule families),
// filters by implementation, family and status, every check, and for each
// violation its pictures (src/report/svg.ts): the PCI topology when it has
// one, and the sequence diagram of the shrunk counterexample.
import { failingText, htmlEscape, sequenceSvg, topologySvg } from './svg.ts';
import { familiesOf, familyOf, implementationsOf, notChecked, profilesLine, readingOrder, worstStatus } from './text.ts';
import type { Report, RuleStatus, ViolationRecord } from './types.ts';

const STATUS_LABEL: Record<RuleStatus, string> = { violation: 'new violation', known: 'known (documented finding or baseline)', pass: 'pass', 'not-checked': 'not checked: no case ran', 'not-applicable': 'not in this run (--rules)' };
const MARK: Record<RuleStatus, string> = { violation: '✗', known: '●', pass: '✓', 'not-checked': '○', 'not-applicable': '' };

/** Violation sections start open up to this many; beyond it only the new ones do. */
const OPEN_ALL_UP_TO = 12;

function attrs(a: Record<string, string>): string {
  return Object.entries(a).map(([k, v]) => ` ${k}="${htmlEscape(v)}"`).join('');
}

function options(id: string, label: string, values: readonly [string, string][]): string {
  const opts = values.map(([v, text]) => `<option value="${htmlEscape(v)}">${htmlEscape(text)}</option>`).join('');
  return `<label>${label} <select id="${id}"><option value="">all</option>${opts}</select></label>`;
}

function matrix(r: Report, anchor: ReadonlyMap<string, string>): string {
  const fams = familiesOf(r);
  const kinds = new Map(r.implementations.map((i) => [i.name, i.kind]));
  const head = `<tr><th>implementation</th><th>kind</th>${fams.map((f) => `<th${attrs({ 'data-filter': '', 'data-family': f })}>${htmlEscape(f)}</th>`).join('')}</tr>`;
  const rows = implementationsOf(r).map((impl) => {
    const cells = fams.map((f) => {
      const rs = r.results.filter((x) => x.implementation === impl && familyOf(x.rule) === f);
      const st = worstStatus(rs.map((x) => x.status));
      const n = rs.reduce((a, x) => a + x.violations.length, 0);
      const link = anchor.get(`${impl}\u0000${f}`);
      const content = `${MARK[st]}${n > 0 ? ` ${n}` : ''}`;
      const title = `${impl} × ${f}: ${rs.length === 0 ? 'no rule of this family' : `${STATUS_LABEL[st]}, ${rs.length} rule(s), ${n} violation(s)`}`;
      return `<td${attrs({ class: `st ${rs.length ? st : 'none'}`, 'data-filter': '', 'data-family': f, title })}>${link ? `<a href="#${link}">${content}</a>` : content}</td>`;
    });
    return `<tr${attrs({ 'data-filter': '', 'data-impl': impl })}><td>${htmlEscape(impl)}</td><td class="kind">${htmlEscape(kinds.get(impl) ?? '')}</td>${cells.join('')}</tr>`;
  });
  return `<table class="matrix"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The checks of a report as the header and the table both count them: results that were checked
 *  (summary.checks), and the implementation × rule pairs this run did not check, apart. */
export function checkCount(r: Report): string {
  const notChecked = r.results.length - r.summary.checks;
  return `${r.summary.checks} checks${notChecked > 0 ? `, ${notChecked} not checked` : ''}`;
}

function checks(r: Report, anchorOf: ReadonlyMap<string, string>): string {
  const rows = r.results.map((x) => {
    const links = x.violations.map((id) => `<a href="#${anchorOf.get(id) ?? ''}">${htmlEscape(id)}</a>`).join(' ');
    return `<tr${attrs({ 'data-filter': '', 'data-impl': x.implementation, 'data-family': familyOf(x.rule), 'data-status': x.status })}><td>${htmlEscape(x.implementation)}</td><td>${htmlEscape(x.rule)}</td><td>${htmlEscape(x.profile)}</td><td class="num">${x.runs}</td><td class="st ${x.status}">${MARK[x.status]} ${STATUS_LABEL[x.status]}${x.why ? ` (${htmlEscape(x.why)})` : ''}</td><td>${links}</td></tr>`;
  });
  return `<details class="checks"><summary>Every check: implementation × rule (${checkCount(r)})</summary><table><thead><tr><th>implementation</th><th>rule</th><th>profile</th><th>runs</th><th>status</th><th>violations</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

function section(v: ViolationRecord, anchor: string, open: boolean): string {
  const ce = v.counterexample;
  const failing = ce.steps[ce.failingStep];
  const topo = topologySvg(ce);
  const route = ce.route;
  const routeText = route ? `Route ${route.provider} → ${route.client}: the model says ${route.mapType}, distance ${route.distance}${route.blockedBy.length ? `; ACS redirect at ${route.blockedBy.join(', ')}` : '; no ACS redirect on the route'}` : '';
  const topoCaption = !route
    ? 'PCI topology of the counterexample.'
    : ce.suite === 'route'
      ? `${routeText}${failing ? `. The implementation answered ${failing.result}.` : '.'}`
      : `${routeText}. The ${ce.suite} suite is given the map type, not a topology: this is the smallest topology that gives it.`;
  const pics = [
    ...(topo ? [`<figure class="pic topo">${topo}<figcaption>${htmlEscape(topoCaption)}</figcaption></figure>`] : []),
    `<figure class="pic seq">${sequenceSvg(ce, anchor, v.message)}<figcaption>${htmlEscape(`Shrunk counterexample, ${ce.steps.length} step(s) (${ce.suite} suite); step ${ce.failingStep + 1} is the failing step${failing ? ` (${failing.rule ?? v.rule}): ${failingText(failing, v.message)}` : ''}.`)}</figcaption></figure>`,
  ];
  const status = v.known ? 'known' : 'violation';
  return `<section${attrs({ class: `violation st-${status}`, id: anchor, 'data-filter': '', 'data-impl': v.implementation, 'data-family': familyOf(v.rule), 'data-status': status, 'data-id': v.id })}>
<details${open ? ' open' : ''}><summary><span class="badge ${status}">${v.known ? 'known' : 'NEW'}</span> <b>${htmlEscape(v.rule)}</b> — ${htmlEscape(v.implementation)} <span class="muted">(${htmlEscape(v.profile)})</span></summary>
<p class="reason">${htmlEscape(v.message)}</p>
<div class="pics">${pics.join('\n')}</div>
<p class="replay">Replay: <code>${htmlEscape(v.replay)}</code> <span class="muted">fingerprint <code>${htmlEscape(v.fingerprint)}</code> · id <code>${htmlEscape(v.id)}</code></span></p>
<details class="evidence"><summary>evidence</summary><pre>${htmlEscape(JSON.stringify(v.evidence, null, 2) ?? 'null')}</pre></details>
</details>
</section>`;
}

const CSS = `:root{--bad:#c62828;--badbg:#fdecea;--warn:#b26a00;--warnbg:#fff6e0;--ok:#2e7d32;--okbg:#e8f5e9;--route:#2e7d32;--end:#1565c0;--endbg:#e3f0fd;--line:#d0d4da;--muted:#667}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9cfdb}
main{padding:12px 24px 40px}h2{font-size:16px;margin:22px 0 8px}
.filters{position:sticky;top:0;z-index:2;background:#f6f7f9;padding:8px 0;border-bottom:1px solid var(--line);display:flex;gap:18px;align-items:center;flex-wrap:wrap}
.filters select{font:inherit;padding:2px 4px}.count{color:var(--muted)}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid var(--line);padding:3px 8px;text-align:left;white-space:nowrap}th{background:#eef0f4}
.matrix td.st{text-align:center;min-width:54px}.matrix a{color:inherit;text-decoration:none;font-weight:600}
td.violation{background:var(--badbg);color:var(--bad)}td.known{background:var(--warnbg);color:var(--warn)}td.pass{background:var(--okbg);color:var(--ok)}td.none,td.not-applicable,td.not-checked{color:#aab}
td.num{text-align:right}.kind,.muted{color:var(--muted)}
details.checks{margin-top:10px}details.checks table{margin-top:6px}
section.violation{background:#fff;border:1px solid var(--line);border-left:5px solid var(--warn);border-radius:6px;margin:12px 0;padding:6px 14px}
section.st-violation{border-left-color:var(--bad)}section summary{cursor:pointer;font-size:15px;padding:4px 0}
.badge{display:inline-block;font-size:11px;font-weight:700;padding:1px 6px;border-radius:3px;color:#fff;background:var(--warn);text-transform:uppercase}.badge.violation{background:var(--bad)}
.reason{font-weight:600;margin:6px 0}.pics{display:flex;flex-direction:column;gap:10px}
figure.pic{margin:0;overflow-x:auto;border:1px solid #eceef2;border-radius:4px;padding:6px;background:#fcfcfd}figcaption{color:var(--muted);font-size:12.5px;margin-top:4px}
.replay code,pre{background:#f1f3f6;padding:1px 5px;border-radius:3px;font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace}pre{padding:8px;overflow-x:auto}
[hidden]{display:none!important}#empty{color:var(--muted)}
svg text{font:11px system-ui,-apple-system,"Segoe UI",sans-serif;fill:#1d2330}
svg .tid,svg .tsub,svg .lane{text-anchor:middle}svg .tag{text-anchor:end}svg .tid{font-weight:700}svg .tsub{fill:#4a5160;font-size:10px}svg .tag{fill:var(--end);font-weight:700;font-size:10px}
svg .lane{font-weight:700}svg .legend{font-size:10.5px;fill:var(--muted)}
.tnode{fill:#f3f5f9;stroke:#8a93a6;stroke-width:1.2}.tnode.rc{fill:#eceff5;stroke-dasharray:4 3}.tnode.onroute{fill:var(--okbg);stroke:var(--route);stroke-width:2}
.tnode.end{fill:var(--endbg);stroke:var(--end);stroke-width:2.4}.tnode.acs{fill:var(--badbg);stroke:var(--bad);stroke-width:3}
.tedge{stroke:#a7aebb;stroke-width:1.4}.tedge.route{stroke:var(--route);stroke-width:4;stroke-linecap:round}
.lanehead{fill:#eef0f4;stroke:#b8bfcc}.lifeline{stroke:#b8bfcc;stroke-dasharray:5 4}
.arrow{stroke:#39414f;stroke-width:1.4;fill:none}.arrow.warn{stroke:var(--warn)}.arrow.fail{stroke:var(--bad);stroke-width:2.6}
.headfill{fill:#39414f}.headfail{fill:var(--bad)}.failrow{fill:var(--badbg);stroke:#f2b8b5}
svg .cmd{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}svg .failcmd{font-weight:700;fill:var(--bad);stroke:var(--badbg)}
svg .num{fill:var(--muted);text-anchor:middle}svg .side{fill:#4a5160}svg .side.warn{fill:var(--warn)}
svg .verdict{fill:var(--bad);font-weight:700}svg .expect{fill:var(--bad);font-weight:700}svg .got{fill:#4a5160}`;

const SCRIPT = `(function(){
var keys=['impl','family','status'];var f={impl:'',family:'',status:''};
function shown(el){for(var i=0;i<keys.length;i++){var k=keys[i],v=el.getAttribute('data-'+k);if(f[k]&&v!==null&&v!==f[k])return false;}return true;}
function apply(){var n=0,all=document.querySelectorAll('[data-filter]');
for(var i=0;i<all.length;i++){var el=all[i],ok=shown(el);el.hidden=!ok;if(ok&&el.tagName==='SECTION')n++;}
document.getElementById('shown').textContent=String(n);document.getElementById('empty').hidden=n>0;}
keys.forEach(function(k){var s=document.getElementById('f-'+k);s.addEventListener('change',function(){f[k]=s.value;apply();});f[k]=s.value;});
apply();})();`;

export function renderHtml(r: Report): string {
  const anchorOf = new Map(r.violations.map((v, i) => [v.id, `v${i}`]));
  const firstOf = new Map<string, string>();
  for (const v of readingOrder(r.violations)) {
    const key = `${v.implementation}\u0000${familyOf(v.rule)}`;
    if (!firstOf.has(key)) firstOf.set(key, anchorOf.get(v.id)!);
  }
  const order = readingOrder(r.violations).map((v) => [r.violations.indexOf(v), v] as const);
  const open = (v: ViolationRecord) => !v.known || r.violations.length <= OPEN_ALL_UP_TO;
  const statuses = (['violation', 'known', 'pass', 'not-checked', 'not-applicable'] as const).map((s): [string, string] => [s, STATUS_LABEL[s]]);
  const meta = `${r.tool.name} ${r.tool.version} · seed ${r.seed} · ${profilesLine(r)}${r.platform ? ` · IOMMU ${r.platform.iommu}, dma_map_phys ${r.platform.dmaMap === 'iommu' ? 'dma-iommu' : 'dma-direct'}` : ' · every machine (drawn per case)'} · ${r.budget.runs} runs per search${r.budget.exhaustive ? ` · exhaustive k=${r.budget.exhaustive}` : ''} · ${r.implementations.length} implementations · ${checkCount(r)} · ${r.summary.new} new · ${r.summary.known} known`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dmabuf-conform report — seed ${r.seed}</title>
<style>${CSS}</style></head>
<body>
<header><h1>dmabuf-conform report</h1><p>${htmlEscape(meta)}</p></header>
<main>
<div class="filters">${options('f-impl', 'implementation', implementationsOf(r).map((i) => [i, i]))}${options('f-family', 'family', familiesOf(r).map((f) => [f, f]))}${options('f-status', 'status', statuses)}<span class="count"><span id="shown">${r.violations.length}</span> of ${r.violations.length} violation(s) shown</span></div>
<h2>Summary: implementations × rule families</h2>
${matrix(r, firstOf)}
<p class="muted">${MARK.violation} new violation · ${MARK.known} known (a documented finding of reports/FINDINGS.md, or in the baseline) · ${MARK.pass} pass · ${MARK['not-checked']} not checked: no case ran · the number counts violations; a cell links to the first one.</p>
${notChecked(r).map((x) => `<p class="unchecked">${MARK['not-checked']} ${htmlEscape(x.implementation)}: ${htmlEscape(x.why)}; not checked: ${htmlEscape(x.rules.join(', '))}</p>`).join('\n')}
${checks(r, anchorOf)}
<h2>Violations (${r.violations.length}: ${r.summary.new} new, ${r.summary.known} known)</h2>
${order.map(([i, v]) => section(v, `v${i}`, open(v))).join('\n')}
<p id="empty"${r.violations.length ? ' hidden' : ''}>No violation matches the filters.</p>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
