// What the runner needs from a suite (route, convert, lifecycle, match): the
// rules it checks and its targets. A target is one implementation bound to
// its suite: it searches for a counterexample with fast-check (seeded,
// shrunk) and replays one from its JSON input. One adapter per suite lives
// in src/harness/suites/.
import fc from 'fast-check';
import type { Profile } from '../../models/profiles.ts';
import { hex } from '../../models/u64.ts';
import type { Counterexample, Step } from '../report/types.ts';
import { DMA_MAP_PATHS, IOMMU_FLAVOURS, type Platform } from '../kernel/platform.ts';
import { RULES, type RuleFamily, type RuleId } from '../rules/registry.ts';
import type { Violation } from '../rules/violation.ts';
import { caseRan } from './heartbeat.ts';
import type { Plugin, PluginKind } from './plugin.ts';

export type SuiteId = Counterexample['suite'];

/** What a search or a replay found: the violations of one input, and how to replay it. */
export interface Found {
  readonly violations: readonly Violation[];
  readonly counterexample: Counterexample;
  /** Documented finding ids explaining each violation (same order), or null. */
  readonly explainedBy: readonly (string | null)[];
}

/** What one search found: the shrunk failure on a rule no documented finding
 *  explains (none when the budget passed; one per suite part at most), and one
 *  input for each documented finding met on the way (recorded, never a reason to stop). */
export interface Search {
  readonly failures: readonly Found[];
  readonly findings: readonly Found[];
}

/** One implementation under one profile, bound to the suites that check what it provides.
 *  Bundled ports, seeded bugs and a user's plugins all become targets the same way. */
export interface Target {
  /** The implementation as the report names it: the plugin's name, `:profile` past its first profile. */
  readonly name: string;
  readonly suite: SuiteId;
  /** Which check of the suite this is (lifecycle, pal, map, conversion, route, match, cleaned, converter):
   *  a plugin checked by several parts gets one target that runs them all, inputs tagged with the part. */
  readonly part: string;
  readonly kind: PluginKind;
  readonly profiles: readonly Profile[];
  readonly rules: readonly RuleId[];
  /** Search with this seed and budget; `skip` are rules already found (a hit on them does not fail a run). */
  search(seed: number, runs: number, skip: ReadonlySet<RuleId>, opts?: SearchOptions): Promise<Search>;
  /** Re-run a counterexample's input exactly. */
  replay(input: unknown): Promise<Found>;
  /** Bounded exhaustive exploration to depth k (--exhaustive K): states seen and the inputs that break a rule. */
  explore?(k: number): Promise<{ states: number; inputs: unknown[] }>;
}

/** The counts of fast-check's RunDetails that a search hands an observer. */
export type RunCounts = Pick<fc.RunDetails<unknown>, 'failed' | 'interrupted' | 'numRuns' | 'numSkips' | 'numShrinks'>;

/** What a caller (the runner, the bench) asks of a search beyond its seed and budget. */
export interface SearchOptions {
  /** Called with the RunDetails of every fc.check the search makes. */
  readonly observe?: (details: RunCounts) => void;
  /** false: the lifecycle's plain uniform fc.commands (no state-aware selection, no race
   *  scenarios), the baseline the state-aware search is measured against. Other suites ignore it. */
  readonly stateAware?: boolean;
  /** --time: every fc.check stops at this time (epoch ms; fast-check's interruptAfterTimeLimit). */
  readonly deadline?: number;
  /** The machine the run pins (--iommu, --dma-map): put into every generated case, so its
   *  counterexample replays on the same one. Absent: each case (a lifecycle run) draws its own. */
  readonly platform?: Platform;
  /** Documented findings the caller already holds a case for, as `finding|rule` (the runner keeps the
   *  first case of each): a case met again that shows only these need not be made smaller (lifecycle-shrink.ts). */
  readonly knownFindings?: ReadonlySet<string>;
}

/** Every simulated machine (src/kernel/platform.ts): an IOMMU flavour and a dma_map_phys() path. */
export const platformArb: fc.Arbitrary<Platform> = fc.tuple(fc.constantFrom(...IOMMU_FLAVOURS), fc.constantFrom(...DMA_MAP_PATHS)).map(([iommu, dmaMap]) => ({ iommu, dmaMap }));

/** Cases of a search, each carrying the machine it runs on: the run's when it pins one (--iommu,
 *  --dma-map), else one fast-check chooses per case, so a checker that only some machine exercises
 *  is met in every run. Either way the case's input records it. */
export function onPlatform<T extends object>(arb: fc.Arbitrary<T>, opts: SearchOptions | undefined): fc.Arbitrary<T & { platform: Platform }> {
  const p = opts?.platform;
  if (p) return arb.map((c) => ({ ...c, platform: p }));
  return fc.tuple(arb, platformArb).map(([c, platform]) => ({ ...c, platform }));
}

/** The fc.check parameters of a search's deadline: interrupt the runs (and the shrinking) when it passes.
 *  A run in flight is not stopped (fast-check cannot stop a predicate), only left: runs are short. */
export function timeLimit(opts: SearchOptions | undefined): Pick<fc.Parameters<unknown>, 'interruptAfterTimeLimit'> {
  return opts?.deadline === undefined ? {} : { interruptAfterTimeLimit: Math.max(0, opts.deadline - Date.now()) };
}

export interface Suite {
  readonly id: SuiteId;
  /** Every rule some target of this suite checks. */
  readonly rules: readonly RuleId[];
  /** The targets of one plugin (none when the suite checks nothing it provides); `others` are the
   *  plugins given with it (an importer is checked against the exporter given beside it). */
  targets(plugin: Plugin, others: readonly Plugin[]): Target[];
}

export function family(f: RuleFamily): RuleId[] {
  return RULES.filter((r) => r.family === f).map((r) => r.id);
}

/** JSON with bigints as {"$u64": "0x.."} so inputs round-trip exactly. */
export function toInput(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? { $u64: hex(x) } : x)));
}

export function fromInput<T>(v: unknown): T {
  return JSON.parse(JSON.stringify(v), (_k, x: unknown) => (x && typeof x === 'object' && '$u64' in x ? BigInt((x as { $u64: string }).$u64) : x)) as T;
}

/** A counterexample's steps labelled from what broke: each step with the first rule reported in it, and the
 *  failing step where the first violation was (replay's '>' and the report's failingStep). A violation names the
 *  step its log was at when reported (ViolationLog.step); one without a step, or past the last, counts for the last. */
export function labelSteps(plain: readonly Step[], violations: readonly Violation[]): Pick<Counterexample, 'steps' | 'failingStep'> {
  const last = plain.length - 1;
  const stepOf = (v: Violation) => Math.min(v.step ?? last, last);
  const steps = plain.map((s, i): Step => {
    const rule = violations.find((v) => stepOf(v) === i)?.rule;
    return rule ? { ...s, rule } : s;
  });
  return { steps, failingStep: violations[0] ? stepOf(violations[0]) : Math.max(0, last) };
}

/** A judged input: its violations, and the documented finding explaining each (null: unexplained). */
export interface Judged {
  readonly violations: readonly Violation[];
  readonly explainedBy: readonly (string | null)[];
}

/** fc.check on "no unexplained violation of a wanted rule": the shrunk failing input (or null),
 *  and the first input that showed each documented finding, met along the way. */
export async function searchCases<T>(arb: fc.Arbitrary<T>, seed: number, runs: number, want: (v: Violation) => boolean, judge: (x: T) => Promise<Judged> | Judged, opts?: SearchOptions): Promise<{ failure: T | null; findings: T[] }> {
  const findings = new Map<string, T>();
  const out = await fc.check(fc.asyncProperty(arb, async (x) => {
    caseRan();
    const j = await judge(x);
    j.explainedBy.forEach((id, i) => {
      if (id !== null && !findings.has(id) && want(j.violations[i]!)) findings.set(id, x);
    });
    return !j.violations.some((v, i) => j.explainedBy[i] === null && want(v));
  }), { seed, numRuns: runs, ...timeLimit(opts) });
  opts?.observe?.(out);
  // An interrupted check with no run done is `failed` without a counterexample: no failure.
  return { failure: out.failed && out.counterexample ? out.counterexample[0] : null, findings: [...findings.values()] };
}

/** A search over judged inputs, described as Found by `found`. */
export async function searchFound<T>(arb: fc.Arbitrary<T>, seed: number, runs: number, want: (v: Violation) => boolean, judge: (x: T) => Promise<Judged> | Judged, found: (x: T) => Promise<Found> | Found, opts?: SearchOptions): Promise<Search> {
  const r = await searchCases(arb, seed, runs, want, judge, opts);
  return { failures: r.failure === null ? [] : [await found(r.failure)], findings: await Promise.all(r.findings.map(found)) };
}

/** Does a violation's rule still need searching: one of the target's rules, not found yet? */
export const wanted = (rules: readonly RuleId[], skip: ReadonlySet<RuleId>) => (v: Violation): boolean => rules.includes(v.rule) && !skip.has(v.rule);
