// The Markdown summary for pull requests: implementations × rule families,
// then each violation with its rule, one-line reason, steps and replay command.
import { RULES } from '../rules/registry.ts';
import type { Report, RuleStatus } from './types.ts';

const FAMILIES = [...new Set(RULES.map((r) => r.family))];
const MARK: Record<RuleStatus, string> = { pass: '✅', known: '🟡', violation: '❌', 'not-applicable': '·' };

function mdEscape(s: string): string {
  return s.replace(/[|`*_<>[\]]/g, (c) => `\\${c}`).replace(/\n/g, ' ');
}

export function renderMarkdown(r: Report): string {
  const impls = [...new Set(r.results.map((x) => x.implementation))];
  const cell = (impl: string, fam: string) => {
    const rs = r.results.filter((x) => x.implementation === impl && x.rule.startsWith(`${fam}-`));
    if (rs.length === 0 || rs.every((x) => x.status === 'not-applicable')) return '';
    const worst = (['violation', 'known', 'pass'] as const).find((s) => rs.some((x) => x.status === s)) ?? 'not-applicable';
    return MARK[worst];
  };
  const fams = FAMILIES.filter((f) => impls.some((i) => cell(i, f) !== ''));
  const out = [
    '# dmabuf-conform report', '',
    `Seed ${r.seed}, profiles ${r.profiles.join(', ')}, ${r.budget.runs} runs per search. ${r.summary.checks} checks: **${r.summary.new} new**, ${r.summary.known} known (baseline).`, '',
    `| implementation | ${fams.join(' | ')} |`, `|---|${fams.map(() => '---').join('|')}|`,
    ...impls.map((i) => `| ${mdEscape(i)} | ${fams.map((f) => cell(i, f)).join(' | ')} |`), '',
    `${MARK.pass} pass · ${MARK.known} known finding · ${MARK.violation} new violation`, '',
  ];
  for (const v of [...r.violations].sort((a, b) => Number(a.known) - Number(b.known))) {
    out.push(`## ${v.known ? '' : 'NEW '}${v.rule} — ${mdEscape(v.implementation)}`, '', mdEscape(v.message), '');
    v.counterexample.steps.forEach((s) => out.push(`${s.index + 1}. ${s.index === v.counterexample.failingStep ? '**' : ''}\`${s.command.replace(/`/g, "'")}\` → ${mdEscape(s.result)} (model: ${mdEscape(s.expected)})${s.index === v.counterexample.failingStep ? '**' : ''}`));
    out.push('', `Replay: \`${v.replay.replace(/`/g, "'")}\``, '');
  }
  return `${out.join('\n')}\n`;
}
