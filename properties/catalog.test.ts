// Checks on the checker: every seeded bug is a plugin of some kind that the
// user path (the same targets, search and budget as `run`) can take; the
// bundled correct implementations show nothing beyond the documented
// findings over several seeds; one seed gives one JSON report; every rule
// is checked by a suite and broken by a seeded bug. That the default budget
// finds every seeded bug with its own rule is `dmabuf-conform self-test`,
// which .ci/run runs as its own step (it takes longer than the test gate).
// DMABUF_CATALOG_SEEDS and DMABUF_CATALOG_RUNS deepen the second check.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { PROFILES } from '../models/profiles.ts';
import { seededBugs } from '../src/bugs/index.ts';
import { DEFAULT_RUNS, DEFAULT_SEED } from '../src/commands/run.ts';
import { selfTest } from '../src/commands/self-test.ts';
import { bundledPlugins } from '../src/harness/bundled.ts';
import { runConformance, type Baseline, type RunOptions } from '../src/harness/runner.ts';
import { allTargets, SUITES } from '../src/harness/targets.ts';
import { reportJson } from '../src/report/index.ts';
import { RULES } from '../src/rules/registry.ts';

const shipped = JSON.parse(readFileSync('reports/baseline.json', 'utf8')) as Baseline;
const base: Omit<RunOptions, 'seed' | 'targets'> = { runs: DEFAULT_RUNS, profiles: [...PROFILES], baseline: shipped, bail: false, replayCommand: (id) => `replay ${id}`, progress: () => undefined };
const seeds = Number(process.env.DMABUF_CATALOG_SEEDS ?? '1');
const faithfulRuns = Number(process.env.DMABUF_CATALOG_RUNS ?? '40');

describe('checks on the checker', () => {
  it('every file of src/bugs/ (but the helpers and the registry) is a seeded bug, each a plugin with targets of its own, and every rule is broken by one', () => {
    const bugs = seededBugs();
    const files = readdirSync('src/bugs').filter((f) => !f.startsWith('lifecycle') && !f.endsWith('-helpers.ts') && f !== 'index.ts').map((f) => `bug:${f.replace(/\.ts$/, '')}`);
    expect(bugs.map((b) => b.plugin.name)).toEqual(expect.arrayContaining(files));
    for (const b of bugs) expect(allTargets([b.plugin]).length).toBeGreaterThan(0);
    const broken = new Set(bugs.map((b) => b.rule));
    expect(RULES.map((r) => r.id).filter((id) => !broken.has(id))).toEqual([]);
  });

  // Two kinds here, the quick ones (a match bug takes 3000 runs, 4-5 s of CPU; the converter's takes
  // one); .ci/run's self-test step runs every seeded bug of every kind.
  it('self-test finds seeded bugs through the user path, with their own rule, within the default budget', async () => {
    const one = (kind: string) => seededBugs().find((b) => b.plugin.kind === kind)!.plugin.name;
    const { rows } = await selfTest(DEFAULT_SEED, DEFAULT_RUNS, new Set(['pal', 'converter'].map(one)));
    expect(rows.filter((r) => !r.found).map((r) => `${r.bug} (${r.rule}): showed ${r.rules.join(', ')}`)).toEqual([]);
    expect(rows).toHaveLength(2);
  });

  it("the bundled correct implementations show no violation beyond the documented findings, on seeds other than the default run's (DMABUF_CATALOG_SEEDS=N for more than one)", async () => {
    const faithful = allTargets(bundledPlugins());
    expect(faithful.map((t) => t.suite)).toEqual(expect.arrayContaining(['route', 'convert', 'lifecycle', 'match']));
    for (let s = 0; s < seeds; s++) {
      const { report } = await runConformance({ ...base, runs: faithfulRuns, seed: DEFAULT_SEED + 7919 * (s + 1), targets: faithful });
      const unexplained = report.violations.filter((v) => !v.known).map((v) => `${v.implementation} ${v.rule}: ${v.message}`);
      expect(unexplained).toEqual([]);
    }
  });

  // One target of every suite, each with violations to shrink and report: the route suite, PAL and
  // conversion through the convert suite, match-making, a lifecycle bug found in races (UAF-DYING),
  // and a faithful port whose findings are documented (known). Every 12th target (the sample before)
  // was four lifecycle targets at 1 s each and no route or PAL target.
  const DETERMINISM = ['bug:route-acs-provider-exclusive', 'bug:pal-fill-no-start', 'bug:len-sum-drop-tail', 'bug:match-p2p-ignored', 'bug:uaf-cleanup-ignores-dying', 'vfio-pci:mainline'];
  it('the same seed gives a byte-identical JSON report, timings aside', async () => {
    const targets = allTargets([...bundledPlugins(), ...seededBugs().map((b) => b.plugin)]).filter((t) => DETERMINISM.includes(t.name));
    expect(targets.map((t) => t.name).sort()).toEqual([...DETERMINISM].sort());
    expect(new Set(targets.map((t) => t.suite))).toEqual(new Set(SUITES.map((s) => s.id)));
    const strip = (s: string) => s.slice(0, s.indexOf('"timings"'));
    const a = await runConformance({ ...base, runs: 20, seed: 9, targets });
    const b = await runConformance({ ...base, runs: 20, seed: 9, targets });
    expect(a.report.violations.length).toBeGreaterThan(0);
    expect(strip(reportJson(b.report))).toBe(strip(reportJson(a.report)));
    expect(reportJson(a.report).indexOf('"timings"')).toBeGreaterThan(reportJson(a.report).lastIndexOf('"violations"'));
  });

  it('every rule of the registry is checked by some suite, and each suite names the rules its targets check', () => {
    const checked = new Set(SUITES.flatMap((s) => s.rules));
    expect(RULES.map((r) => r.id).filter((id) => !checked.has(id))).toEqual([]);
    for (const p of [...bundledPlugins(), ...seededBugs().map((b) => b.plugin)]) {
      for (const s of SUITES) for (const t of s.targets(p, [p])) expect(s.rules).toEqual(expect.arrayContaining([...t.rules]));
    }
  });
});
