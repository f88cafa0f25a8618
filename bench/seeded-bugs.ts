// Seeded bugs: how soon each target's search finds the bug's own rule
// (Target.search with every other rule skipped, as the runner searches a
// seeded bug), over several seeds, counted with fast-check's RunDetails; for
// the lifecycle bugs also the plain uniform fc.commands baseline.
import type { RunCounts, Target } from '../src/harness/suite.ts';
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

async function attempt(t: Target, seed: number, budget: number, stateAware: boolean): Promise<Attempt> {
  const checks: RunCounts[] = [];
  const skip = new Set(t.rules.filter((r) => r !== t.bugOf));
  const t0 = performance.now();
  const hit = await t.search(seed, budget, skip, { stateAware, observe: (d) => checks.push(d) });
  const ms = since(t0);
  const found = hit?.violations.some((v) => v.rule === t.bugOf) === true;
  return {
    seed, found, ms,
    runs: sum(checks.map((c) => c.numRuns)),
    shrinks: sum(checks.map((c) => c.numShrinks)),
    steps: found ? hit!.counterexample.steps.length : null,
    byRace: found && typeof (hit!.counterexample.input as { race?: unknown }).race === 'number',
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

async function detect(t: Target, seeds: readonly number[], budget: number, stateAware: boolean): Promise<Detection> {
  const attempts: Attempt[] = [];
  for (const seed of seeds) attempts.push(await attempt(t, seed, budget, stateAware));
  return detection(attempts);
}

/** The uniform baseline gets this many times the budget, so that a deep bug's ratio is measured rather than capped. */
export const BASELINE_BUDGET_FACTOR = 3;

/** A lifecycle bug's search, state-aware and (unless only a race shows it: the baseline runs no races) uniform. */
export async function benchBug(t: Target, seeds: readonly number[], budget: number): Promise<BugBench> {
  const stateAware = await detect(t, seeds, budget, true);
  const raceOnly = stateAware.attempts.every((a) => a.byRace);
  const baseline = t.suite === 'lifecycle' && !raceOnly ? await detect(t, seeds, budget * BASELINE_BUDGET_FACTOR, false) : undefined;
  return { name: t.name, suite: t.suite, rule: t.bugOf!, stateAware, ...(baseline ? { baseline, speedup: speedup(stateAware, baseline) } : {}) };
}

/** a / b to 0.01 (b at least 0.1: a median may be 0 ms). */
const ratio = (a: number, b: number): number => Math.round((a / Math.max(b, 0.1)) * 100) / 100;

function speedup(aware: Detection, baseline: Detection): Speedup {
  return { runs: ratio(baseline.runs.median, aware.runs.median), ms: ratio(baseline.ms.median, aware.ms.median), atLeast: baseline.found < baseline.of };
}
