// Checks on the checker (issue 7): every seeded bug is found by the runner
// with its own rule within the default budget; the bundled correct
// implementations show nothing beyond the documented findings over several
// seeds; one seed gives one JSON report. DMABUF_CATALOG_SEEDS and
// DMABUF_CATALOG_RUNS deepen the second check.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { PROFILES } from '../models/profiles.ts';
import { DEFAULT_RUNS, DEFAULT_SEED } from '../src/commands/run.ts';
import { bundledExporters, bundledImporters } from '../src/harness/bundled.ts';
import { runConformance, type Baseline, type RunOptions } from '../src/harness/runner.ts';
import { allTargets, SUITES } from '../src/harness/targets.ts';
import { reportJson } from '../src/report/index.ts';
import { RULES } from '../src/rules/registry.ts';

const shipped = JSON.parse(readFileSync('reports/baseline.json', 'utf8')) as Baseline;
const base: Omit<RunOptions, 'seed' | 'targets'> = { runs: DEFAULT_RUNS, profiles: [...PROFILES], baseline: shipped, bail: false, replayCommand: (id) => `replay ${id}`, progress: () => undefined };
const seeds = Number(process.env.DMABUF_CATALOG_SEEDS ?? '2');
const faithfulRuns = Number(process.env.DMABUF_CATALOG_RUNS ?? '100');

describe('checks on the checker', () => {
  it('every seeded bug in src/bugs/ is found by the runner with its own rule ID within the default budget, and is known to the shipped baseline', async () => {
    const bugs = allTargets().filter((t) => t.bugOf);
    // One file per seeded bug, except the lifecycle bugs (src/bugs/lifecycle*.ts), which come in as bundled plugins.
    const files = readdirSync('src/bugs').filter((f) => !f.startsWith('lifecycle') && !f.endsWith('-helpers.ts')).map((f) => `bug:${f.replace(/\.ts$/, '')}`);
    const plugins = [...bundledExporters(), ...bundledImporters()].filter((p) => p.bugOf).map((p) => p.name);
    expect(bugs.map((t) => t.name).sort()).toEqual([...files, ...plugins].sort());
    const { report, newCount } = await runConformance({ ...base, seed: DEFAULT_SEED, targets: bugs });
    const missed = bugs.filter((t) => !report.violations.some((v) => v.implementation === t.name && v.rule === t.bugOf)).map((t) => `${t.name} (${t.bugOf})`);
    expect(missed).toEqual([]);
    expect(newCount).toBe(0);
  });

  it('the bundled correct implementations show no violation beyond the documented findings, over several seeds', async () => {
    const faithful = allTargets().filter((t) => !t.bugOf);
    expect(faithful.map((t) => t.suite)).toEqual(expect.arrayContaining(['route', 'convert', 'lifecycle', 'match']));
    for (let s = 0; s < seeds; s++) {
      const { report } = await runConformance({ ...base, runs: faithfulRuns, seed: DEFAULT_SEED + 7919 * (s + 1), targets: faithful });
      const unexplained = report.violations.filter((v) => !v.known).map((v) => `${v.implementation} ${v.rule}: ${v.message}`);
      expect(unexplained).toEqual([]);
    }
  });

  it('the same seed gives a byte-identical JSON report, timings aside', async () => {
    const targets = allTargets().filter((_, i) => i % 4 === 0);
    const strip = (s: string) => s.slice(0, s.indexOf('"timings"'));
    const a = await runConformance({ ...base, runs: 60, seed: 9, targets });
    const b = await runConformance({ ...base, runs: 60, seed: 9, targets });
    expect(a.report.violations.length).toBeGreaterThan(0);
    expect(strip(reportJson(b.report))).toBe(strip(reportJson(a.report)));
    expect(reportJson(a.report).indexOf('"timings"')).toBeGreaterThan(reportJson(a.report).lastIndexOf('"violations"'));
  });

  it('every rule of the registry is checked by some suite, and each suite names the rules its targets check', () => {
    const checked = new Set(SUITES.flatMap((s) => s.rules));
    expect(RULES.map((r) => r.id).filter((id) => !checked.has(id))).toEqual([]);
    for (const t of allTargets()) expect(SUITES.find((s) => s.id === t.suite)!.rules).toEqual(expect.arrayContaining([...t.rules]));
  });
});
