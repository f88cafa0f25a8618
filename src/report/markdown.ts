// The Markdown summary for pull requests (GitHub-flavoured): a table of
// implementations × rule families, then each violation with its rule, a
// one-line reason, its steps and the replay command. New violations come
// first and in full; known ones (baseline) fold into a <details> block.
import { familiesOf, familyOf, implementationsOf, notChecked, oneLine, profilesLine, readingOrder, sanitize, worstStatus } from './text.ts';
import type { Report, RuleStatus, ViolationRecord } from './types.ts';

const MARK: Record<RuleStatus, string> = { pass: '✅', known: '🟡', violation: '❌', 'not-checked': '⚪', 'not-applicable': '' };
/** A PR comment holds 65,536 characters: long lists stop here and point to the HTML report. */
const MAX_NEW = 40;
const MAX_KNOWN = 20;

/** Inline text: one line, every character that could start markup escaped. */
export function mdEscape(s: string): string {
  return oneLine(sanitize(s))
    .replace(/[\\`*_[\]|~#!()]/g, (c) => `\\${c}`)
    .replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

/**
 * A code span that no backtick inside can close early. In a table cell a `|`
 * would end the cell (GFM splits rows before inline parsing, and `\\|` is an
 * escaped backslash then a pipe), so a cell text with `|` or `\\` becomes an
 * HTML <code> with every ASCII punctuation character as a numeric entity.
 */
export function mdCode(s: string, inTable = false): string {
  const text = oneLine(sanitize(s));
  if (inTable && /[|\\]/.test(text)) return `<code>${text.replace(/[!-/:-@[-`{-~]/g, (c) => `&#${c.charCodeAt(0)};`)}</code>`;
  const fence = '`'.repeat(Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function matrix(r: Report): string[] {
  const fams = familiesOf(r);
  const cell = (impl: string, fam: string) => {
    const rs = r.results.filter((x) => x.implementation === impl && familyOf(x.rule) === fam);
    const worst = worstStatus(rs.map((x) => x.status));
    const n = rs.reduce((a, x) => a + x.violations.length, 0);
    return `${MARK[worst]}${n > 0 ? ` ${n}` : ''}`;
  };
  return [
    `| implementation | ${fams.map(mdEscape).join(' | ')} |`,
    `|---|${fams.map(() => ':-:').join('|')}|`,
    ...implementationsOf(r).filter((i) => r.results.some((x) => x.implementation === i && x.status !== 'not-applicable'))
      .map((i) => `| ${mdEscape(i)} | ${fams.map((f) => cell(i, f)).join(' | ')} |`),
  ];
}

function violation(v: ViolationRecord): string[] {
  const ce = v.counterexample;
  const steps = ce.steps.map((s) => {
    const b = s.index === ce.failingStep ? '**' : '';
    const model = `${mdEscape(s.expected)}${s.rule ? ` ← ${mdEscape(s.rule)}` : ''}`;
    return `| ${b}${s.index + 1}${b} | ${mdEscape(s.from)} → ${mdEscape(s.to)} | ${mdCode(s.command, true)} | ${b}${mdEscape(s.result)}${b} | ${b}${model}${b} |`;
  });
  const route = ce.route
    ? [`Route ${mdEscape(ce.route.provider)} → ${mdEscape(ce.route.client)}: model ${mdEscape(ce.route.mapType)}, distance ${ce.route.distance}${ce.route.blockedBy.length ? `, ACS redirect at ${ce.route.blockedBy.map(mdEscape).join(', ')}` : ''}.`, '']
    : [];
  return [
    `### ${v.known ? MARK.known : MARK.violation} ${mdEscape(v.rule)} — ${mdEscape(v.implementation)} (${mdEscape(v.profile)})`, '',
    `**Reason:** ${mdEscape(v.message)}`, '',
    ...route,
    '| # | lanes | command | result | model |', '|--:|---|---|---|---|', ...steps, '',
    `Replay: ${mdCode(v.replay)}`, '',
  ];
}

function capped(vs: readonly ViolationRecord[], max: number): string[] {
  const more = vs.length - max;
  return [...vs.slice(0, max).flatMap(violation), ...(more > 0 ? [`… and ${more} more: see report.html or report.json.`, ''] : [])];
}

export function renderMarkdown(r: Report): string {
  const fresh = readingOrder(r.violations).filter((v) => !v.known);
  const known = readingOrder(r.violations).filter((v) => v.known);
  const out = [
    '# dmabuf-conform report', '',
    `Seed ${r.seed} · ${profilesLine(r)}${r.platform ? ` · IOMMU ${r.platform.iommu}, dma_map_phys ${r.platform.dmaMap === 'iommu' ? 'dma-iommu' : 'dma-direct'}` : ' · every machine (drawn per case)'} · ${r.budget.runs} runs per search · ${r.summary.checks} checks: **${r.summary.new} new**, ${r.summary.known} known (documented findings or baseline).`, '',
    ...matrix(r), '',
    `${MARK.pass} pass · ${MARK.known} known (a documented finding of reports/FINDINGS.md, or in the baseline) · ${MARK.violation} new violation · ${MARK['not-checked']} not checked: no case ran (why below) · blank: not in this run · the number counts violations`, '',
  ];
  const idle = notChecked(r);
  if (idle.length > 0) out.push(`## Not checked (${idle.reduce((n, x) => n + x.rules.length, 0)} rule(s))`, '', ...idle.map((x) => `- ${mdEscape(x.implementation)}: ${mdEscape(x.why)}; not checked: ${x.rules.map((rule) => mdEscape(rule)).join(', ')}`), '');
  if (fresh.length > 0) out.push(`## New violations (${fresh.length})`, '', ...capped(fresh, MAX_NEW));
  if (known.length > 0) out.push(`<details><summary>Known: documented findings and baseline entries (${known.length})</summary>`, '', ...capped(known, MAX_KNOWN), '</details>', '');
  return `${out.join('\n')}\n`;
}
