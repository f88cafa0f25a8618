// The bench's tables, one per section, from the measured figures.
import type { ConversionBench } from './conversion.ts';
import type { ExhaustiveBench } from './exhaustive.ts';
import type { ColdStartBench, TimeBench } from './cli.ts';
import { ceilingCpuRatio, ceilingRatio, COLD_START_MAX_MS, CONVERSION_65536_MAX_MS, detectedInTime, EXHAUSTIVE_K6_MAX_MS, fastEnough, isDeep, MIN_CEILING_RATIO, MIN_SPEEDUP, MIN_STEPS_PER_SECOND, NPM_TEST_MAX_MS, TIME_SLACK, type Goal, type StepsAndCeiling } from './goals.ts';
import type { StepsBench, Throughput } from './lifecycle-steps.ts';
import { MIN_ROUND_MS } from './ceiling.ts';
import type { NpmTestBench } from './npm-test.ts';
import { BASELINE_BUDGET_FACTOR, type BugBench, type Detection, type Speedup } from './seeded-bugs.ts';
import type { Summary } from './stats.ts';
import { fmt, table } from './table.ts';

const mark = (met: boolean | null): string => (met === null ? 'n/a' : met ? 'met' : 'MISSED');
const medMax = (s: Summary | null): string => (s ? `${fmt(s.median)} / ${fmt(s.max)}` : '-');
const foundOf = (d: Detection): string => `${d.found}/${d.of}${d.byRace ? ' race' : ''}`;

export function bugsTable(bugs: readonly BugBench[], budget: number): string {
  const rows = bugs.map((b) => {
    const d = b.stateAware;
    return [b.suite, b.name, b.rule, foundOf(d), medMax(d.runs), medMax(d.ms), medMax(d.steps), medMax(d.shrinks), mark(detectedInTime(b))];
  });
  const title = `Seeded bugs: the search for the bug's own rule, budget ${fmt(budget)} runs (median / max over the seeds; steps = the shrunk counterexample's steps as the report shows them; ms includes shrinking)`;
  return table(title, ['suite', 'seeded bug', 'rule', 'found', 'runs', 'ms', 'steps', 'shrinks', '< 1 s'], rows);
}

function ratio(s: Speedup): [string, string] {
  const ge = s.atLeast ? '≥ ' : '';
  return [`${ge}${fmt(s.runs, 1)}×`, `${ge}${fmt(s.ms, 1)}×`];
}

export function baselineTable(bugs: readonly BugBench[]): string {
  const rows = bugs.filter((b) => b.baseline && b.speedup).map((b) => {
    const [runs, ms] = ratio(b.speedup!);
    return [b.name, foundOf(b.stateAware), medMax(b.stateAware.runs), medMax(b.stateAware.ms), foundOf(b.baseline!), medMax(b.baseline!.runs), medMax(b.baseline!.ms), runs, ms, isDeep(b) ? mark(fastEnough(b)) : 'not deep'];
  });
  const title = `Lifecycle seeded bugs: state-aware search vs the plain uniform fc.commands baseline (stateAware: false, ${BASELINE_BUDGET_FACTOR}× the budget; not run for race-only bugs, the baseline has no races), runs and ms median / max; ratio = baseline / state-aware medians (≥: the baseline missed in some seed, its budget counted)`;
  return table(title, ['seeded bug', 'aware found', 'aware runs', 'aware ms', 'uniform found', 'uniform runs', 'uniform ms', 'runs ratio', 'ms ratio', `≥ ${MIN_SPEEDUP}×`], rows);
}

const throughputRow = (t: Throughput): string[] => [t.checkers ? 'on' : 'off', fmt(t.sequences), fmt(t.steps), fmt(t.ms), fmt(t.stepsPerSecond)];

export function stepsTable(s: StepsBench): string {
  const rows = [[...throughputRow(s.on), mark(s.on.stepsPerSecond >= MIN_STEPS_PER_SECOND)], [...throughputRow(s.off), '']];
  const title = `Lifecycle steps (model + implementation) per second: vfio-pci port (${s.modules === 'dist' ? 'the build, as run uses it' : 'the sources through tsx: the build is not current'}), command sequences generated and run by fc.check (best of 3 alternating rounds, after a warm-up)`;
  return `${table(title, ['checkers', 'sequences', 'steps', 'ms', 'steps/s', `≥ ${fmt(MIN_STEPS_PER_SECOND)}`], rows)}\nchecker overhead: ${fmt(s.overhead, 2)}× (steps/s off / on)`;
}

/** µs a step, wall and CPU. */
const perStep = (t: { ms: number; cpuMs: number; steps: number }): [string, string] => [fmt((t.ms * 1000) / t.steps, 2), fmt((t.cpuMs * 1000) / t.steps, 2)];

/** The goal's ratio, and where a lifecycle step's time goes against fast-check's own costs, all measured in this run. */
export function ceilingTable(r: StepsAndCeiling): string {
  const c = r.ceiling;
  const l = r.lifecycleSteps;
  const vs = (stepsPerSecond: number): string => `1/${fmt(c.stepsPerSecond / stepsPerSecond, 1)}`;
  const row = (what: string, t: { ms: number; cpuMs: number; steps: number; stepsPerSecond: number }): string[] => [what, fmt(t.stepsPerSecond), ...perStep(t), vs(t.stepsPerSecond)];
  const rows = [
    row('fast-check ceiling: two-command counter model, fc.commands + fc.modelRun (the goal\'s reference)', c),
    row('the same counter model, async commands through fc.asyncModelRun', r.asyncCeiling),
    row('lifecycle commands generated only (fc.commands of the lifecycle\'s commands; a step = a command)', l.generation),
    row('lifecycle, checkers off', l.off),
    row('lifecycle, checkers on', l.on),
  ];
  const title = `fast-check's ceiling and the lifecycle, same seed, same run (each round ≥ ${MIN_ROUND_MS} ms; best round)`;
  return `${table(title, ['measured', 'steps/s', 'µs a step', 'CPU µs a step', 'vs ceiling'], rows)}\nlifecycle (checkers on) / ceiling = 1/${fmt(1 / ceilingRatio(r), 1)} (goal ≥ 1/4: ${mark(ceilingRatio(r) >= MIN_CEILING_RATIO)}); per CPU second 1/${fmt(1 / ceilingCpuRatio(r), 1)}`;
}

export function cliTable(cold: readonly ColdStartBench[], time: TimeBench): string {
  const rows = [
    ...cold.map((c) => [`dmabuf-conform ${c.command}`, `${fmt(c.ms)} / ${fmt(c.maxMs)} ms${c.fromBuild ? '' : ' (tsx)'}`, `≤ ${COLD_START_MAX_MS} ms`, mark(c.fromBuild && c.ms <= COLD_START_MAX_MS)]),
    [`run --time ${time.budgetMs}ms`, `${fmt(time.runMs)} ms after ${fmt(time.startMs)} ms start (${time.cutShort} cut short)`, `≤ ${fmt(time.budgetMs * (1 + TIME_SLACK))} ms`, mark(time.runMs <= time.budgetMs * (1 + TIME_SLACK))],
  ];
  return table('The CLI from a shell (cold start: median / max of 5, from the build)', ['command', 'measured', 'goal', 'result'], rows);
}

export function exhaustiveTable(rows: readonly ExhaustiveBench[]): string {
  const cells = rows.map((e) => [String(e.k), fmt(e.states), fmt(e.transitions), String(e.violations), fmt(e.ms / 1000, 2), fmt(e.cpuMs / 1000, 2), e.k === 6 ? mark(e.ms <= EXHAUSTIVE_K6_MAX_MS) : '']);
  return table('Exhaustive mode (vfio-pci, 1 device, up to 2 dma-bufs and 2 attachments; CPU s: the process, all threads)', ['k', 'states', 'transitions', 'violations', 's', 'CPU s', `k=6 ≤ ${EXHAUSTIVE_K6_MAX_MS / 1000} s`], cells);
}

export function conversionTable(rows: readonly ConversionBench[]): string {
  const cells = rows.map((c) => [fmt(c.ranges), c.bytes, fmt(c.segments), fmt(c.ms, 1), fmt(c.cpuMs, 1), c.ranges === 65536 ? mark(c.ms <= CONVERSION_65536_MAX_MS) : '']);
  return table('Conversion model (models/sgt.ts expectedConversion and every entry of its table, 16 GiB ranges, BUS_ADDR; median of 5)', ['ranges', 'bytes', 'segments', 'ms', 'CPU ms', `≤ ${CONVERSION_65536_MAX_MS} ms`], cells);
}

export function npmTestLine(t: NpmTestBench | null): string {
  if (!t) return 'npm test: skipped (--no-npm-test)';
  return `npm test: ${fmt(t.ms / 1000, 1)} s, exit ${t.exitCode} (goal ≤ ${NPM_TEST_MAX_MS / 1000} s: ${mark(t.ms <= NPM_TEST_MAX_MS && t.exitCode === 0)})${t.tail ? `\n${t.tail}` : ''}`;
}

export function goalsTable(gs: readonly Goal[]): string {
  return table('Goals', ['goal', 'measured', 'result'], gs.map((g) => [g.goal, g.value, mark(g.met)]));
}
