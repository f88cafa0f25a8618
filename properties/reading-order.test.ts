// One order of violations in every format: run's NEW lines, summary.md, the HTML and the violations of a
// JUnit case or TAP point all follow readingOrder() (src/report/text.ts): new before known, each
// implementation in report order, its smallest case first, UAF/LOCK/DMA first among equals (b22a475).
// For a user's exporter whose reset skipped the notify, the CLI put REV-NOTIFY first (the cause, 4 steps)
// while summary.md and the HTML put REV-MAP first (a consequence, 5 steps), in report order.
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../src/report/html.ts';
import { renderJunit } from '../src/report/junit.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { renderTap } from '../src/report/tap.ts';
import { readingOrder } from '../src/report/text.ts';
import type { Report, RuleResult, ViolationRecord } from '../src/report/types.ts';
import { crossCheck } from '../src/report/crossref.ts';
import { fixtureReport, lifecycleViolation } from './report-fixtures.ts';

/** A lifecycle violation of `impl` with `steps` steps, failing at the last. */
function lc(impl: string, rule: ViolationRecord['rule'], n: number, steps: number, known = false, message = `${rule} of ${impl}`): ViolationRecord {
  const base = lifecycleViolation();
  const ss = Array.from({ length: steps }, (_, i) => ({ ...base.counterexample.steps[i % base.counterexample.steps.length]!, index: i, rule: undefined }));
  return { ...base, id: `${impl}/${rule}/${n}`, rule, implementation: impl, known, message, fingerprint: `${(n + 1).toString(16).padStart(8, '0')}${rule.length.toString(16).padStart(8, '0')}`, counterexample: { ...base.counterexample, steps: ss.map((s, i) => (i === steps - 1 ? { ...s, rule } : s)), failingStep: steps - 1 } };
}

/** A report holding these violations in this (the runner's, by rule) order. */
function reportOf(vs: readonly ViolationRecord[]): Report {
  const base = fixtureReport();
  const impls = [...new Set(vs.map((v) => v.implementation))];
  const results: RuleResult[] = [];
  for (const v of vs) {
    const r = results.find((x) => x.implementation === v.implementation && x.rule === v.rule);
    if (r) (r.violations as string[]).push(v.id);
    else results.push({ implementation: v.implementation, profile: 'v8', rule: v.rule, runs: 400, status: 'violation', violations: [v.id] });
  }
  const fixed = results.map((r) => ({ ...r, status: r.violations.every((id) => vs.find((v) => v.id === id)!.known) ? ('known' as const) : ('violation' as const) }));
  return { ...base, implementations: impls.map((name) => ({ name, kind: 'exporter' as const, profiles: ['v8' as const] })), results: fixed, violations: vs, summary: { checks: fixed.length, violations: vs.length, known: vs.filter((v) => v.known).length, new: vs.filter((v) => !v.known).length }, timings: { totalMs: 1, perImplementationMs: {} } };
}

describe('one order of violations in every format', () => {
  // The runner lists violations by rule (REV-MAP before REV-NOTIFY): the user's reset bug.
  const vs = [
    lc('acme', 'REV-MAP', 0, 5),
    lc('acme', 'REV-NOTIFY', 0, 4),
    lc('acme', 'REV-WINDOW', 0, 4),
    lc('acme', 'UAF-OBJ', 0, 2, true),
    lc('acme', 'LOCK-ORDER', 0, 4),
    lc('other', 'REV-MAP', 0, 1),
  ];
  const r = reportOf(vs);
  const want = ['acme/LOCK-ORDER/0', 'acme/REV-NOTIFY/0', 'acme/REV-WINDOW/0', 'acme/REV-MAP/0', 'other/REV-MAP/0', 'acme/UAF-OBJ/0'];

  it('readingOrder: new first, each implementation in report order, smallest case first, a kernel debug tool\'s rule first among equals', () => {
    expect(crossCheck(r)).toBeNull();
    expect(readingOrder(r.violations).map((v) => v.id)).toEqual(want);
  });

  it('summary.md and the HTML list the violations in that order', () => {
    const md = renderMarkdown(r);
    const mdOrder = [...md.matchAll(/^### \S+ (\S+) — (\S+) \(v8\)$/gm)].map((m) => `${m[2]}/${m[1]}/0`);
    expect(mdOrder).toEqual(want);
    const html = renderHtml(r);
    const htmlOrder = [...html.matchAll(/<section [^>]*data-id="([^"]+)"/g)].map((m) => m[1]);
    expect(htmlOrder).toEqual(want);
    // Every anchor still leads to its violation: the summary cell of acme × LOCK to LOCK-ORDER's section.
    const anchor = /data-family="LOCK"[^>]*><a href="#(v\d+)">/.exec(html)![1]!;
    expect(html).toMatch(new RegExp(`<section [^>]*id="${anchor}"[^>]*data-id="acme/LOCK-ORDER/0"`));
  });

  it('the violations of one JUnit case or TAP point follow it too', () => {
    const two = reportOf([lc('acme', 'REV-MAP', 0, 6, false, 'six steps'), lc('acme', 'REV-MAP', 1, 3, false, 'three steps')]);
    const tap = renderTap(two);
    expect(tap).toContain('  message: "three steps"');
    expect(tap).toContain('    - "acme/REV-MAP/0"');
    const junit = renderJunit(two);
    expect(junit.indexOf('REV-MAP (v8): three steps')).toBeLessThan(junit.indexOf('REV-MAP (v8): six steps'));
    expect(junit).toContain('failure message="three steps"');
  });
});
