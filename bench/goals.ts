// The issue's goals, each judged met or missed from the measured figures
// (null: not measured in this run, e.g. npm test under --no-npm-test).
import type { CeilingBench } from './ceiling.ts';
import type { ColdStartBench, TimeBench } from './cli.ts';
import type { ConversionBench } from './conversion.ts';
import type { ExhaustiveBench } from './exhaustive.ts';
import type { StepsBench } from './lifecycle-steps.ts';
import type { NpmTestBench } from './npm-test.ts';
import type { BugBench } from './seeded-bugs.ts';
import { summarize } from './stats.ts';
import { fmt } from './table.ts';

export interface Goal {
  readonly goal: string;
  readonly value: string;
  readonly met: boolean | null;
}

export const NPM_TEST_MAX_MS = 60_000;
export const DETECT_MEDIAN_MAX_MS = 1_000;
export const MIN_SPEEDUP = 10;
/** A deep bug: the uniform baseline needs at least this many runs (median), i.e. luck. */
export const DEEP_BASELINE_RUNS = 1_000;

export const isDeep = (b: BugBench): boolean => b.baseline !== undefined && (b.baseline.runs.median >= DEEP_BASELINE_RUNS || b.baseline.found < b.baseline.of);
export const MIN_STEPS_PER_SECOND = 50_000;
/** Lifecycle steps/s (checkers on) against fast-check's own two-command counter model, measured in the same run. */
export const MIN_CEILING_RATIO = 1 / 4;
export const EXHAUSTIVE_K6_MAX_MS = 5_000;
export const CONVERSION_65536_MAX_MS = 50;
export const COLD_START_MAX_MS = 300;
/** run --time D ends within D + 10 % (after its workers are up). */
export const TIME_SLACK = 0.1;

/** Found in every seed with a median under the goal. */
export const detectedInTime = (b: BugBench): boolean => b.stateAware.found === b.stateAware.of && b.stateAware.ms.median < DETECT_MEDIAN_MAX_MS;

export const fastEnough = (b: BugBench): boolean => (b.speedup?.runs ?? 0) >= MIN_SPEEDUP;

function bugsGoal(bugs: readonly BugBench[]): Goal {
  const missed = bugs.filter((b) => !detectedInTime(b));
  const why = (b: BugBench) => (b.stateAware.found < b.stateAware.of ? `${b.name} found in ${b.stateAware.found}/${b.stateAware.of} seeds` : `${b.name} ${fmt(b.stateAware.ms.median)} ms`);
  const value = `${bugs.length - missed.length}/${bugs.length} bugs${missed.length ? `; missed: ${missed.map(why).join(', ')}` : ''}`;
  return { goal: `every seeded bug found (all seeds), median < ${fmt(DETECT_MEDIAN_MAX_MS)} ms`, value, met: missed.length === 0 };
}

function speedupGoal(bugs: readonly BugBench[]): Goal {
  const deep = bugs.filter(isDeep);
  const ok = deep.filter(fastEnough);
  const all = bugs.filter((b) => b.speedup);
  const median = all.length ? summarize(all.map((b) => b.speedup!.runs)).median : 0;
  const which = deep.map((b) => `${b.name} ${b.speedup!.atLeast ? '≥ ' : ''}${fmt(b.speedup!.runs, 1)}×`).join(', ');
  return {
    goal: `state-aware ≥ ${MIN_SPEEDUP}× sooner than uniform fc.commands on the deep lifecycle bugs (uniform median ≥ ${fmt(DEEP_BASELINE_RUNS)} runs)`,
    value: `${ok.length}/${deep.length} deep bugs (${which}); median ratio over all ${all.length}: ${fmt(median, 1)}×`,
    met: deep.length > 0 && ok.length === deep.length,
  };
}

/** What a bench run measured; null: the section did not run (--only). */
export interface Measured {
  seededBugs: readonly BugBench[] | null;
  lifecycleSteps: StepsBench | null;
  ceiling: CeilingBench | null;
  asyncCeiling: CeilingBench | null;
  exhaustive: readonly ExhaustiveBench[] | null;
  conversion: readonly ConversionBench[] | null;
  coldStart: readonly ColdStartBench[] | null;
  time: TimeBench | null;
  npmTest: NpmTestBench | null;
}

/** Lifecycle throughput and fast-check's ceiling, measured in the same run. */
export interface StepsAndCeiling {
  readonly lifecycleSteps: StepsBench;
  readonly ceiling: CeilingBench;
  /** The counter model with async commands (fc.asyncModelRun): fast-check's own floor for an async command. */
  readonly asyncCeiling: CeilingBench;
}

export const ceilingRatio = (r: StepsAndCeiling): number => r.lifecycleSteps.on.stepsPerSecond / r.ceiling.stepsPerSecond;

/** The same ratio per CPU second: a short ceiling round on a loaded machine can catch a whole time slice that a long lifecycle round cannot. */
export const ceilingCpuRatio = (r: StepsAndCeiling): number => (r.lifecycleSteps.on.steps / r.lifecycleSteps.on.cpuMs) / (r.ceiling.steps / r.ceiling.cpuMs);

const NOT_MEASURED = 'not measured (--only)';

export function goals(r: Measured): Goal[] {
  const k6 = r.exhaustive?.find((e) => e.k === 6);
  const big = r.conversion?.find((c) => c.ranges === 65536);
  const t = r.npmTest;
  const steps = r.lifecycleSteps && r.ceiling && r.asyncCeiling ? { lifecycleSteps: r.lifecycleSteps, ceiling: r.ceiling, asyncCeiling: r.asyncCeiling } : null;
  const bugs = r.seededBugs;
  const skipped = (goal: string): Goal => ({ goal, value: NOT_MEASURED, met: null });
  const ceilingGoal = 'lifecycle steps/s (checkers on) ≥ 1/4 of fast-check\'s counter model (fc.commands + fc.modelRun)';
  const k6Goal = `exhaustive k = 6 ≤ ${EXHAUSTIVE_K6_MAX_MS / 1000} s`;
  const convGoal = `65,536 ranges of a 2^50-byte buffer converted by the model ≤ ${CONVERSION_65536_MAX_MS} ms`;
  const timeGoal = `run --time D ends within D + ${TIME_SLACK * 100} % (after the workers are up)`;
  return [
    { goal: `npm test ≤ ${NPM_TEST_MAX_MS / 1000} s (and passes)`, value: t ? `${fmt(t.ms / 1000, 1)} s, exit ${t.exitCode}` : 'skipped (--no-npm-test)', met: t ? t.ms <= NPM_TEST_MAX_MS && t.exitCode === 0 : null },
    bugs ? bugsGoal(bugs) : skipped(`every seeded bug found (all seeds), median < ${fmt(DETECT_MEDIAN_MAX_MS)} ms`),
    bugs ? speedupGoal(bugs) : skipped(`state-aware ≥ ${MIN_SPEEDUP}× sooner than uniform fc.commands on the deep lifecycle bugs`),
    steps ? { goal: ceilingGoal, value: `1/${fmt(1 / ceilingRatio(steps), 1)}: ${fmt(steps.lifecycleSteps.on.stepsPerSecond)} vs ${fmt(steps.ceiling.stepsPerSecond)} steps/s (per CPU second 1/${fmt(1 / ceilingCpuRatio(steps), 1)})`, met: ceilingRatio(steps) >= MIN_CEILING_RATIO } : skipped(ceilingGoal),
    k6 ? { goal: k6Goal, value: `${fmt(k6.ms / 1000, 2)} s (CPU ${fmt(k6.cpuMs / 1000, 2)} s), ${fmt(k6.states)} states`, met: k6.ms <= EXHAUSTIVE_K6_MAX_MS } : skipped(k6Goal),
    big ? { goal: convGoal, value: `${fmt(big.ms, 1)} ms (CPU ${fmt(big.cpuMs, 1)} ms)`, met: big.ms <= CONVERSION_65536_MAX_MS } : skipped(convGoal),
    ...(r.coldStart ?? []).map((c) => ({ goal: `CLI cold start \`${c.command}\` ≤ ${COLD_START_MAX_MS / 1000} s from the build`, value: `${fmt(c.ms)} ms median, ${fmt(c.maxMs)} max${c.fromBuild ? '' : ' (sources through tsx: the build is not current)'}`, met: c.fromBuild ? c.ms <= COLD_START_MAX_MS : false })),
    r.time ? { goal: timeGoal, value: `D = ${fmt(r.time.budgetMs)} ms: ${fmt(r.time.runMs)} ms (+ ${fmt(r.time.startMs)} ms start), ${r.time.cutShort} cut short`, met: r.time.runMs <= r.time.budgetMs * (1 + TIME_SLACK) } : skipped(timeGoal),
  ];
}
