// TAP 13 as kselftest and the kunit tool read it: `TAP version 13`, the plan,
// one `ok`/`not ok N - <implementation> <rule>` per implementation × rule,
// a YAML diagnostics block (`  ---` .. `  ...`) under each violation.
// Directives are the two TAP 13 defines: `# SKIP` for a rule not checked
// (kunit_parser.py TEST_RESULT_SKIP), and `not ok .. # TODO` for a known
// finding accepted by the baseline: the rule is broken (not ok) and the
// breakage is expected, so TAP readers do not fail the run on it (TAP 13,
// "TODO tests"). Not `# XFAIL`: TAP 13 does not define it, and parsers count
// such a line as a plain pass.
import { oneLine, readingOrder, sanitize } from './text.ts';
import type { Report, RuleResult, ViolationRecord } from './types.ts';

/** A YAML double-quoted scalar: JSON's escapes are YAML's; also escape what YAML 1.1 reads as line breaks. */
export function yamlString(s: string): string {
  return JSON.stringify(sanitize(s)).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A test description: one line, no `#` (it would start a directive). */
export function tapDescription(s: string): string {
  return oneLine(sanitize(s)).replace(/#/g, '_');
}

/** One YAML block per test point: the first violation in full, the ids of any others. */
function diagnostics(listed: readonly ViolationRecord[]): string[] {
  const v = listed[0];
  if (!v) return [];
  const ce = v.counterexample;
  const failing = ce.steps[ce.failingStep];
  return [
    '  ---',
    `  rule: ${yamlString(v.rule)}`,
    `  implementation: ${yamlString(v.implementation)}`,
    `  profile: ${yamlString(v.profile)}`,
    `  message: ${yamlString(oneLine(v.message))}`,
    `  known: ${v.known}`,
    ...(failing ? [`  got: ${yamlString(failing.result)}`, `  expected: ${yamlString(failing.expected)}`] : []),
    ...(ce.route ? [`  route: ${yamlString(`${ce.route.provider} -> ${ce.route.client}: ${ce.route.mapType}, distance ${ce.route.distance}`)}`] : []),
    '  steps:',
    ...ce.steps.map((s) => `    - ${yamlString(`${s.index === ce.failingStep ? '>' : ' '} ${oneLine(s.command)} -> ${oneLine(s.result)} (model: ${oneLine(s.expected)})${s.rule ? ` [${s.rule}]` : ''}`)}`),
    `  replay: ${yamlString(v.replay)}`,
    `  fingerprint: ${yamlString(v.fingerprint)}`,
    ...(listed.length > 1 ? ['  more:', ...listed.slice(1).map((o) => `    - ${yamlString(o.id)}`)] : []),
    '  ...',
  ];
}

function testPoint(x: RuleResult, n: number, byId: ReadonlyMap<string, ViolationRecord>): string[] {
  const desc = `${n} - ${tapDescription(`${x.implementation} ${x.rule}`)}`;
  const listed = readingOrder(x.violations.flatMap((id) => byId.get(id) ?? []));
  switch (x.status) {
    case 'not-applicable': return [`ok ${desc} # SKIP not checked in this run`];
    case 'not-checked': return [`ok ${desc} # SKIP not checked: ${tapDescription(x.why ?? 'no case ran')}`];
    case 'pass': return [`ok ${desc}`];
    case 'known': return [`not ok ${desc} # TODO known: documented finding or baseline`, ...diagnostics(listed)];
    case 'violation': return [`not ok ${desc}`, ...diagnostics(listed)];
  }
}

export function renderTap(r: Report): string {
  const byId = new Map(r.violations.map((v) => [v.id, v]));
  const lines = ['TAP version 13', `1..${r.results.length}`, ...r.results.flatMap((x, i) => testPoint(x, i + 1, byId))];
  lines.push(`# dmabuf-conform seed ${r.seed}: ${r.summary.checks} checks, ${r.summary.new} new violation(s), ${r.summary.known} known`);
  return `${lines.join('\n')}\n`;
}
