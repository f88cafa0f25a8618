// TAP 13 as kselftest/kunit tooling reads it: one test point per
// implementation × rule, YAML diagnostics for violations, SKIP for rules
// that do not apply, TODO for known (baselined) findings.
import type { Report } from './types.ts';

function yamlString(s: string): string {
  return JSON.stringify(s);
}

export function renderTap(r: Report): string {
  const vs = new Map(r.violations.map((v) => [v.id, v]));
  const lines = ['TAP version 13', `1..${r.results.length}`];
  r.results.forEach((x, i) => {
    const desc = `${x.implementation} ${x.rule}`.replace(/#/g, '');
    if (x.status === 'not-applicable') return void lines.push(`ok ${i + 1} ${desc} # SKIP not checked in this run`);
    if (x.status === 'pass') return void lines.push(`ok ${i + 1} ${desc}`);
    lines.push(`not ok ${i + 1} ${desc}${x.status === 'known' ? ' # TODO known finding (baseline)' : ''}`);
    const v = vs.get(x.violations[0]!)!;
    lines.push('  ---', `  message: ${yamlString(v.message)}`, `  rule: ${v.rule}`, `  fingerprint: ${v.fingerprint}`, `  replay: ${yamlString(v.replay)}`, '  steps:');
    for (const s of v.counterexample.steps) lines.push(`    - ${yamlString(`${s.command} -> ${s.result} (model: ${s.expected})${s.rule ? ` [${s.rule}]` : ''}`)}`);
    lines.push('  ...');
  });
  return `${lines.join('\n')}\n`;
}
