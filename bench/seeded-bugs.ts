// Seeded bugs: how soon the runner, given the bug alone as a user gives a
// plugin (the path of `self-test` and `run`, nothing special for the bug),
// shows the bug's own rule, over several seeds; for the lifecycle bugs also
// with the plain uniform fc.commands baseline in place of the state-aware search.
import { PROFILES } from '../models/profiles.ts';
import type { SeededBug } from '../src/bugs/index.ts';
import { workerPool } from '../src/harness/pool.ts';
import { runConformance, type Executor } from '../src/harness/runner.ts';
import type { RunCounts, Target } from '../src/harness/suite.ts';
import { allTargets } from '../src/harness/targets.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { summarize, since, sum, type Summary } from './stats.ts';

/** One search: the runs fast-check made (to the failure, or the whole budget), its shrinks,
 *  the wall time (search, shrinking and the report's replay) and the counterexample's steps. */
export interface Attempt {
  readonly seed: number;
  readonly found: boolean;
  readonly runs: number;
  readonly shrinks: number;
  readonly ms: number;
  /** Steps of the shrunk counterexample as the report shows them; null when not found. */
  readonly steps: number | null;
  /** Found by a race scenario (the shrunk counterexample is a race). */
  readonly byRace: boolean;
}

export interface Detection {
  readonly found: number;
  readonly of: number;
  readonly runs: Summary;
  readonly ms: Summary;
  readonly shrinks: Summary;
  readonly steps: Summary | null;
  readonly byRace: boolean;
  readonly attempts: readonly Attempt[];
}

export interface BugBench {
  readonly name: string;
  readonly suite: Target['suite'];
  readonly rule: RuleId;
  readonly stateAware: Detection;
  /** Lifecycle bugs only: uniform fc.commands (stateAware: false), and how much sooner the state-aware search was. */
  readonly baseline?: Detection;
  readonly speedup?: Speedup;
}

/** baseline / state-aware medians; `atLeast` when the baseline missed in some seed (its runs are the budget, a lower bound). */
export interface Speedup {
  readonly runs: number;
  readonly ms: number;
  readonly atLeast: boolean;
}

/** One run of the runner on the bug alone, as `self-test` and a user's `run` do (the plugin loaded by name
 *  in a worker: a bug that ends or hangs its process is a finding, not the end of the bench): when its own
 *  rule first showed. */
async function attempt(bug: SeededBug, executor: Executor, seed: number, budget: number, stateAware: boolean): Promise<Attempt> {
  let hit: { ms: number; runs: number } | undefined;
  const { report } = await runConformance({
    seed, runs: budget, profiles: [...PROFILES], executor, baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined,
    search: { stateAware }, onHit: (_t, rule, ms, runs) => { if (rule === bug.rule && !hit) hit = { ms, runs }; },
  });
  const v = report.violations.find((x) => x.rule === bug.rule && !x.finding);
  // A worker's exit or hang is the pool's finding, not a search's hit: its time is the run's.
  return {
    seed, found: hit !== undefined || v !== undefined, ms: Math.round(hit?.ms ?? report.timings.totalMs),
    runs: hit?.runs ?? report.results.reduce((m, r) => Math.max(m, r.runs), 0),
    shrinks: 0,
    steps: v ? v.counterexample.steps.length : null,
    byRace: v !== undefined && JSON.stringify(v.counterexample.input).includes('"race"'),
  };
}

function detection(attempts: readonly Attempt[]): Detection {
  const steps = attempts.flatMap((a) => (a.steps === null ? [] : [a.steps]));
  return {
    found: attempts.filter((a) => a.found).length,
    of: attempts.length,
    runs: summarize(attempts.map((a) => a.runs)),
    ms: summarize(attempts.map((a) => a.ms)),
    shrinks: summarize(attempts.map((a) => a.shrinks)),
    steps: steps.length ? summarize(steps) : null,
    byRace: attempts.some((a) => a.byRace),
    attempts,
  };
}

async function detect(t: SeededBug, seeds: readonly number[], budget: number, stateAware: boolean): Promise<Detection> {
  const executor = await workerPool([{ spec: t.plugin.name, flag: 'self-test' }], { separately: true, size: 1 });
  try {
    const attempts: Attempt[] = [];
    for (const seed of seeds) attempts.push(await attempt(t, executor, seed, budget, stateAware));
    return detection(attempts);
  } finally {
    await executor.close();
  }
}

/** The uniform baseline gets this many times the budget, so that a deep bug's ratio is measured rather than capped. */
export const BASELINE_BUDGET_FACTOR = 3;

/** A lifecycle bug's search, state-aware and (unless only a race shows it: the baseline runs no races) uniform. */
export async function benchBug(bug: SeededBug, seeds: readonly number[], budget: number): Promise<BugBench> {
  const stateAware = await detect(bug, seeds, budget, true);
  const raceOnly = stateAware.attempts.every((a) => a.byRace);
  const suite = allTargets([bug.plugin])[0]!.suite;
  const lifecycle = bug.plugin.kind === 'exporter' || bug.plugin.kind === 'importer';
  const baseline = lifecycle && !raceOnly ? await detect(bug, seeds, budget * BASELINE_BUDGET_FACTOR, false) : undefined;
  return { name: bug.plugin.name, suite, rule: bug.rule, stateAware, ...(baseline ? { baseline, speedup: speedup(stateAware, baseline) } : {}) };
}

/** a / b to 0.01 (b at least 0.1: a median may be 0 ms). */
const ratio = (a: number, b: number): number => Math.round((a / Math.max(b, 0.1)) * 100) / 100;

function speedup(aware: Detection, baseline: Detection): Speedup {
  return { runs: ratio(baseline.runs.median, aware.runs.median), ms: ratio(baseline.ms.median, aware.ms.median), atLeast: baseline.found < baseline.of };
}
