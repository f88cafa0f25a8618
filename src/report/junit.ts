// JUnit XML for CI systems: one <testsuite> per implementation, one
// <testcase> per implementation × rule. A new violation is a <failure> whose
// body is the shrunk counterexample; a known one (baseline) passes with the
// counterexample in <system-out>; a rule not checked is <skipped/>.
import { counterexampleText, implementationsOf, oneLine, readingOrder, sanitize } from './text.ts';
import type { Report, RuleResult, ViolationRecord } from './types.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Character data: markup characters as entities, forbidden characters as U+FFFD. */
export function xmlEscape(s: string): string {
  return sanitize(s).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** An attribute value: also keeps tabs and newlines (a parser would fold them to spaces). */
export function xmlAttr(s: string): string {
  return xmlEscape(s).replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

function testcase(x: RuleResult, listed: readonly ViolationRecord[]): string {
  const open = `    <testcase classname="${xmlAttr(x.implementation)}" name="${xmlAttr(x.rule)}">`;
  const body = listed.map(counterexampleText).join('\n\n');
  switch (x.status) {
    case 'not-applicable': return `${open}<skipped message="not checked in this run"/></testcase>`;
    case 'not-checked': return `${open}<skipped message="${xmlAttr(`not checked: ${oneLine(x.why ?? 'no case ran')}`)}"/></testcase>`;
    case 'pass': return `${open}</testcase>`;
    case 'known': return `${open}<system-out>${xmlEscape(`known: a documented finding (reports/FINDINGS.md) or in the baseline\n${body}`)}</system-out></testcase>`;
    case 'violation': {
      const first = listed.find((v) => !v.known) ?? listed[0];
      return `${open}<failure message="${xmlAttr(oneLine(first?.message ?? 'violation'))}" type="${xmlAttr(x.rule)}">${xmlEscape(body)}</failure></testcase>`;
    }
  }
}

function testsuite(r: Report, impl: string, results: readonly RuleResult[], byId: ReadonlyMap<string, ViolationRecord>): string {
  const count = (s: RuleResult['status']) => results.filter((x) => x.status === s).length;
  const props = [['seed', String(r.seed)], ['profiles', [...new Set(results.map((x) => x.profile))].join(',')], ['runs', String(Math.max(0, ...results.map((x) => x.runs)))]]
    .map(([k, v]) => `      <property name="${k}" value="${xmlAttr(v!)}"/>`);
  const cases = results.map((x) => testcase(x, readingOrder(x.violations.flatMap((id) => byId.get(id) ?? []))));
  return [
    `  <testsuite name="${xmlAttr(impl)}" tests="${results.length}" failures="${count('violation')}" errors="0" skipped="${count('not-applicable') + count('not-checked')}">`,
    '    <properties>', ...props, '    </properties>', ...cases, '  </testsuite>',
  ].join('\n');
}

export function renderJunit(r: Report): string {
  const byId = new Map(r.violations.map((v) => [v.id, v]));
  const suites = implementationsOf(r)
    .map((impl) => ({ impl, results: r.results.filter((x) => x.implementation === impl) }))
    .filter((s) => s.results.length > 0)
    .map((s) => testsuite(r, s.impl, s.results, byId));
  const failures = r.results.filter((x) => x.status === 'violation').length;
  const skipped = r.results.filter((x) => x.status === 'not-applicable' || x.status === 'not-checked').length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="dmabuf-conform" tests="${r.results.length}" failures="${failures}" errors="0" skipped="${skipped}">\n${suites.join('\n')}\n</testsuites>\n`;
}
