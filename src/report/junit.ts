// JUnit XML for CI systems: one testcase per implementation × rule; a
// violation's counterexample is the failure body.
import type { Report, ViolationRecord } from './types.ts';

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

export function counterexampleText(v: ViolationRecord): string {
  const steps = v.counterexample.steps.map((s) => `${s.index === v.counterexample.failingStep ? '>' : ' '} ${s.index}. ${s.command} -> ${s.result} (model: ${s.expected})${s.rule ? ` [${s.rule}]` : ''}`);
  return [`${v.rule}: ${v.message}`, ...steps, `replay: ${v.replay}`, `fingerprint: ${v.fingerprint}`].join('\n');
}

export function renderJunit(r: Report): string {
  const byImpl = new Map<string, typeof r.results>();
  for (const res of r.results) byImpl.set(res.implementation, [...(byImpl.get(res.implementation) ?? []), res]);
  const vs = new Map(r.violations.map((v) => [v.id, v]));
  const suites = [...byImpl.entries()].map(([impl, results]) => {
    const failures = results.filter((x) => x.status === 'violation').length;
    const skipped = results.filter((x) => x.status === 'not-applicable').length;
    const cases = results.map((x) => {
      const name = `${impl} ${x.rule}`;
      const open = `    <testcase classname="${xmlEscape(impl)}" name="${xmlEscape(name)}">`;
      if (x.status === 'not-applicable') return `${open}<skipped/></testcase>`;
      if (x.status === 'pass') return `${open}</testcase>`;
      const body = x.violations.map((id) => counterexampleText(vs.get(id)!)).join('\n\n');
      if (x.status === 'known') return `${open}<system-out>${xmlEscape(`known (baseline)\n${body}`)}</system-out></testcase>`;
      return `${open}<failure message="${xmlEscape(vs.get(x.violations[0]!)!.message)}" type="${x.rule}">${xmlEscape(body)}</failure></testcase>`;
    });
    return `  <testsuite name="${xmlEscape(impl)}" tests="${results.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="dmabuf-conform" tests="${r.results.length}" failures="${r.results.filter((x) => x.status === 'violation').length}">\n${suites.join('\n')}\n</testsuites>\n`;
}
