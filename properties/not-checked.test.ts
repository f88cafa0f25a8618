// A rule no case ran is not checked, not passed: after a PLUGIN-TIMEOUT (or PLUGIN-EXIT) stopped an
// implementation's search before any run, its other rules showed ✅ in summary.md and the HTML while
// report.json said runs: 0. Now the result is 'not-checked' with why, and every format says so:
// summary.md (⚪ and a line why), HTML, JUnit (<skipped message="not checked: ...">), TAP (# SKIP why).
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../models/profiles.ts';
import { runConformance, type RunOptions } from '../src/harness/runner.ts';
import type { Found, Target } from '../src/harness/suite.ts';
import { crossCheck } from '../src/report/crossref.ts';
import { renderHtml } from '../src/report/html.ts';
import { renderJunit } from '../src/report/junit.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { renderTap } from '../src/report/tap.ts';
import { validateReport } from '../src/report/validate.ts';

const opts: Omit<RunOptions, 'seed' | 'targets'> = { runs: 5, profiles: [...PROFILES], baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined };

/** A worker stopped before any run, as the pool reports it (part 'isolation', no fast-check run observed). */
const hung: Found = { violations: [{ rule: 'PLUGIN-TIMEOUT', message: 'spins did not return within 3000 ms' }], explainedBy: [null], counterexample: { suite: 'lifecycle', steps: [{ index: 0, from: 'user', to: 'exporter', command: 'search of spins', result: 'hung', expected: 'a result', rule: 'PLUGIN-TIMEOUT' }], failingStep: 0, input: { part: 'isolation', input: { why: 'hung', seed: 1, round: 0, runs: 5 } } } };
const target = (name: string, search: Target['search']): Target => ({ name, suite: 'lifecycle', part: 'lifecycle', kind: 'exporter', profiles: ['v8'], rules: ['REV-MAP', 'LOCK-ORDER', 'PLUGIN-TIMEOUT'], search, replay: async () => hung });
const spins = target('spins', async () => ({ failures: [hung], findings: [] }));
const clean = target('clean', async (_seed, runs, _skip, o) => (o?.observe?.({ failed: false, interrupted: false, numRuns: runs, numShrinks: 0, numSkips: 0 }), { failures: [], findings: [] }));

describe('a rule no case ran is not checked', () => {
  it('after a PLUGIN-TIMEOUT before any run: not-checked with why in report.json, and so in every format', async () => {
    const { report } = await runConformance({ ...opts, seed: 1, targets: [spins, clean] });
    const of = (impl: string, rule: string) => report.results.find((x) => x.implementation === impl && x.rule === rule)!;
    const why = "PLUGIN-TIMEOUT stopped spins's search before any case ran";
    expect(of('spins', 'REV-MAP')).toMatchObject({ runs: 0, status: 'not-checked', why });
    expect(of('spins', 'LOCK-ORDER')).toMatchObject({ runs: 0, status: 'not-checked', why });
    expect(of('spins', 'PLUGIN-TIMEOUT').status).toBe('violation');
    expect(of('clean', 'REV-MAP')).toMatchObject({ runs: 5, status: 'pass' });
    expect(of('clean', 'REV-MAP').why).toBeUndefined();
    // Not checked is not a check: 3 of clean's, and spins' violation.
    expect(report.summary.checks).toBe(4);
    expect(validateReport(report)).toEqual({ ok: true, value: report });
    expect(crossCheck(report)).toBeNull();
    // Any 'pass' with a 'not-checked' result's why, or a 'not-checked' some case ran, is refused.
    expect(crossCheck({ ...report, results: report.results.map((x) => (x.status === 'not-checked' ? { ...x, runs: 3 } : x)) })).toMatch(/^\/results\/\d+\/status: 'not-checked' with 3 run\(s\)/);

    const md = renderMarkdown(report);
    expect(md).toMatch(/^\| spins \| ⚪ \| ⚪ \| ❌ 1 \|$/m);
    expect(md).toMatch(/^\| clean \| ✅ \| ✅ \| ✅ \|$/m);
    expect(md).toContain("- spins: PLUGIN-TIMEOUT stopped spins's search before any case ran; not checked: REV-MAP, LOCK-ORDER");
    const html = renderHtml(report);
    expect(html).toMatch(/<td class="st not-checked"[^>]*>○<\/td>/);
    expect(html).toContain(`○ not checked: no case ran (PLUGIN-TIMEOUT stopped spins&#39;s search before any case ran)`);
    expect(html).not.toMatch(/data-impl="spins" data-family="REV" data-status="pass"/);
    const junit = renderJunit(report);
    expect(junit).toContain(`<testcase classname="spins" name="REV-MAP"><skipped message="not checked: PLUGIN-TIMEOUT stopped spins&apos;s search before any case ran"/></testcase>`);
    expect(junit).toMatch(/<testsuite name="spins" tests="3" failures="1" errors="0" skipped="2">/);
    const tap = renderTap(report);
    expect(tap).toContain("ok 1 - spins REV-MAP # SKIP not checked: PLUGIN-TIMEOUT stopped spins's search before any case ran");
    expect(tap).toMatch(/^ok \d+ - clean REV-MAP$/m);
  });
});
