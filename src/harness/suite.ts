// What the runner needs from a suite (route, convert, lifecycle, match): the
// rules it checks and its targets. A target is one implementation bound to
// its suite: it searches for a counterexample with fast-check (seeded,
// shrunk) and replays one from its JSON input. One adapter per suite lives
// in src/harness/suites/.
import fc from 'fast-check';
import type { Profile } from '../../models/profiles.ts';
import { hex } from '../../models/u64.ts';
import type { Counterexample } from '../report/types.ts';
import { RULES, type RuleFamily, type RuleId } from '../rules/registry.ts';
import type { Violation } from '../rules/violation.ts';
import type { ExporterPlugin, ImporterPlugin } from './plugin.ts';

export type SuiteId = Counterexample['suite'];

/** What a search or a replay found: the violations of one input, and how to replay it. */
export interface Found {
  readonly violations: readonly Violation[];
  readonly counterexample: Counterexample;
  /** Documented finding ids explaining each violation (same order), or null. */
  readonly explainedBy: readonly (string | null)[];
}

/** A documented finding an implementation carries (reports/FINDINGS.md). */
export interface TargetFinding {
  readonly id: string;
  readonly rules: readonly RuleId[];
}

export interface Target {
  readonly name: string;
  readonly suite: SuiteId;
  readonly kind: 'exporter' | 'importer' | 'core' | 'bug';
  readonly profiles: readonly Profile[];
  readonly rules: readonly RuleId[];
  /** Set on a seeded bug: the rule it breaks. */
  readonly bugOf?: RuleId;
  readonly findings: readonly TargetFinding[];
  /** Whose documented findings these are when not this target's own (a plugin `basedOn` a bundled exporter). */
  readonly findingsOf?: string;
  /** Search with this seed and budget; `skip` are rules already found (not searched for again). */
  search(seed: number, runs: number, skip: ReadonlySet<RuleId>, opts?: SearchOptions): Promise<Found | null>;
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
}

/** User plugins replace the bundled exporters or importers of the suites that drive plugins. */
export interface PluginSet {
  readonly exporters?: readonly ExporterPlugin[];
  readonly importers?: readonly ImporterPlugin[];
}

export interface Suite {
  readonly id: SuiteId;
  /** Every rule some target of this suite checks. */
  readonly rules: readonly RuleId[];
  /** The implementations it checks: bundled ones, or the user's plugins where the suite drives plugins. */
  targets(plugins?: PluginSet): Target[];
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

/** fc.check on "no bad input": the shrunk counterexample, or null when the budget passes. */
export async function searchWith<T>(arb: fc.Arbitrary<T>, seed: number, runs: number, bad: (x: T) => Promise<boolean> | boolean, observe?: SearchOptions['observe']): Promise<T | null> {
  const out = await fc.check(fc.asyncProperty(arb, async (x) => !(await bad(x))), { seed, numRuns: runs });
  observe?.(out);
  return out.failed ? out.counterexample![0] : null;
}

/** Does a violation's rule still need searching: one of the target's rules, not found yet? */
export const wanted = (rules: readonly RuleId[], skip: ReadonlySet<RuleId>) => (v: Violation): boolean => rules.includes(v.rule) && !skip.has(v.rule);
