// The conformance runner: searches every target for violations (fast-check,
// seeded, shrunk), replays the failure corpus first, classifies each
// violation as known (baseline) or new, and builds the JSON report.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile } from '../../models/profiles.ts';
import { REPORT_SCHEMA_VERSION, type Counterexample, type Report, type RuleResult, type ViolationRecord } from '../report/types.ts';
import type { RuleId } from '../rules/registry.ts';
import { jsonSafe } from '../rules/violation.ts';
import type { Found, RunCounts, SearchOptions, Target } from './suite.ts';

export const TOOL_VERSION = '0.1.0';
/** Searches per target and round: each looks for rules the earlier ones did not show, and the
 *  round ends at the first search that shows nothing new. */
const MAX_SEARCHES = 8;

export interface BaselineEntry {
  readonly fingerprint: string;
  readonly implementation: string;
  readonly rule: RuleId;
  readonly why: string;
}

export interface Baseline {
  readonly version: 1;
  readonly findings: readonly BaselineEntry[];
}

/** Where a run is: the target just searched, its profile, targets done, runs so far, violations so far. */
export interface Progress {
  readonly target: string;
  readonly profile: Profile;
  readonly done: number;
  readonly total: number;
  readonly runs: number;
  readonly violations: number;
  readonly newOnes: number;
}

export interface RunOptions {
  readonly seed: number;
  readonly runs: number;
  readonly timeMs?: number;
  readonly exhaustive?: number;
  readonly profiles: readonly Profile[];
  readonly rules?: ReadonlySet<RuleId>;
  readonly targets: readonly Target[];
  readonly baseline: Baseline;
  readonly corpusDir?: string;
  readonly bail: boolean;
  readonly replayCommand: (id: string) => string;
  readonly progress: (p: Progress) => void;
  /** An observer (the bench): told when a rule first shows on a target, with the ms and fast-check runs its searches took so far. */
  readonly onHit?: (target: string, rule: RuleId, ms: number, runs: number) => void;
  /** Passed to every search: the bench's uniform baseline (stateAware: false). */
  readonly search?: Pick<SearchOptions, 'stateAware'>;
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** Canonical JSON: object keys sorted, so a fingerprint does not depend on key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A violation's identity across runs: rule + implementation + the canonical
 *  JSON of its shrunk input. A documented finding (reports/FINDINGS.md) is
 *  identified by its id and rule instead, whatever the implementation and the
 *  input that showed it: it is the known behaviour of the design's code, and a
 *  copy of that code keeps it. */
export function fingerprint(t: Target, rule: RuleId, explainedBy: string | null, input: unknown): string {
  if (explainedBy) return sha(`finding:${explainedBy}|${rule}`);
  return sha(`${t.name}|${rule}|${canonical(input)}`);
}

interface Hit {
  readonly rule: RuleId;
  readonly found: Found;
  readonly index: number;
}

function hitsOf(found: Found, rules: ReadonlySet<RuleId> | undefined): Hit[] {
  const seen = new Set<RuleId>();
  const out: Hit[] = [];
  found.violations.forEach((v, index) => {
    if (seen.has(v.rule) || (rules && !rules.has(v.rule))) return;
    seen.add(v.rule);
    out.push({ rule: v.rule, found, index });
  });
  return out;
}

interface CorpusEntry {
  readonly implementation: string;
  readonly rule: RuleId;
  readonly input: unknown;
}

function corpusEntries(dir: string | undefined, target: string): CorpusEntry[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().flatMap((f) => {
    try {
      const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CorpusEntry;
      return e.implementation === target ? [e] : [];
    } catch {
      return [];
    }
  });
}

/** One violation's view of a shared counterexample: the failing step is the one where this
 *  rule broke (when the checker knows the step), labelled with this rule. */
function focus(ce: Counterexample, rule: RuleId, step: number | undefined): Counterexample {
  if (step === undefined || step >= ce.steps.length) return ce;
  return { ...ce, failingStep: step, steps: ce.steps.map((s, i) => (i === step ? { ...s, rule } : s)) };
}

/** Write a file atomically: a temporary file, then a rename. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export async function runConformance(opts: RunOptions): Promise<{ report: Report; newCount: number }> {
  const t0 = performance.now();
  const known = new Set(opts.baseline.findings.map((f) => f.fingerprint));
  const records: ViolationRecord[] = [];
  const results: RuleResult[] = [];
  const perImpl: Record<string, number> = {};
  let newCount = 0;
  const targets = opts.targets.filter((t) => t.profiles.some((p) => opts.profiles.includes(p)));
  const hitsBy = new Map<string, Hit[]>();
  const runsBy = new Map<string, number>();
  const deadline = opts.timeMs === undefined ? undefined : t0 + opts.timeMs;

  const searchTarget = async (t: Target, round: number) => {
    const ts = performance.now();
    const hits = hitsBy.get(t.name) ?? [];
    // The corpus replays first, as regression tests; it does not steer the search, so a
    // seed gives the same report whatever the corpus holds (its cases are merged in after).
    const regressions = round === 0 ? await corpusHits(t) : [];
    const skip = new Set<RuleId>([...hits.map((h) => h.rule), ...t.rules.filter((r) => opts.rules && !opts.rules.has(r))]);
    // The runs fast-check made, to the failure or the whole budget (not the budget given).
    const observe = (d: RunCounts) => runsBy.set(t.name, (runsBy.get(t.name) ?? 0) + d.numRuns);
    const add = (found: readonly Found[]): boolean => {
      const fresh = found.flatMap((f) => hitsOf(f, opts.rules)).filter((h) => !skip.has(h.rule));
      for (const h of fresh) {
        skip.add(h.rule);
        opts.onHit?.(t.name, h.rule, performance.now() - ts, runsBy.get(t.name) ?? 0);
      }
      hits.push(...fresh);
      return fresh.length > 0;
    };
    // Every search goes on past documented findings (recorded, once per finding) to the other rules.
    for (let i = 0; i < MAX_SEARCHES && skip.size < t.rules.length; i++) {
      const s = await t.search(opts.seed + round * 1000 + i, opts.runs, skip, { observe, ...opts.search });
      for (const f of s.findings) hits.push(...hitsOf(f, opts.rules).filter((h) => h.found.explainedBy[h.index] !== null && !hits.some((x) => x.found.explainedBy[x.index] === h.found.explainedBy[h.index] && x.rule === h.rule)));
      if (!add(s.failures)) break;
    }
    hits.push(...regressions);
    hitsBy.set(t.name, hits);
    perImpl[t.name] = (perImpl[t.name] ?? 0) + (performance.now() - ts);
  };

  const corpusHits = async (t: Target): Promise<Hit[]> => {
    const out: Hit[] = [];
    for (const e of corpusEntries(opts.corpusDir, t.name)) out.push(...hitsOf(await t.replay(e.input), opts.rules).filter((h) => h.rule === e.rule));
    return out;
  };

  const profileOf = (t: Target): Profile => t.profiles.find((p) => opts.profiles.includes(p))!;
  const isKnown = (t: Target, h: Hit) => (h.found.explainedBy[h.index] ?? null) !== null || known.has(fingerprint(t, h.rule, null, h.found.counterexample.input));
  const isNew = (t: Target, h: Hit) => !isKnown(t, h);
  const tell = (t: Target, done: number, total: number, label = t.name) => {
    const seen = targets.map((x) => ({ x, hits: [...new Map((hitsBy.get(x.name) ?? []).map((h) => [h.rule, h])).values()] }));
    const runs = [...runsBy.values()].reduce((a, b) => a + b, 0);
    opts.progress({ target: label, profile: profileOf(t), done, total, runs, violations: seen.reduce((n, s) => n + s.hits.length, 0), newOnes: seen.reduce((n, s) => n + s.hits.filter((h) => isNew(s.x, h)).length, 0) });
  };
  const anyNew = () => targets.some((t) => (hitsBy.get(t.name) ?? []).some((h) => isNew(t, h)));

  for (let round = 0; ; round++) {
    for (const [done, t] of targets.entries()) {
      await searchTarget(t, round);
      tell(t, done + 1, targets.length);
      if (opts.bail && anyNew()) break;
    }
    if (!deadline || performance.now() >= deadline || (opts.bail && anyNew())) break;
  }

  if (opts.exhaustive !== undefined) {
    for (const t of targets.filter((x) => x.explore)) {
      const r = await t.explore!(opts.exhaustive);
      const hits = hitsBy.get(t.name) ?? [];
      for (const input of r.inputs.slice(0, 4)) hits.push(...hitsOf(await t.replay(input), opts.rules).filter((h) => !hits.some((x) => x.rule === h.rule)));
      hitsBy.set(t.name, hits);
      tell(t, 1, 1, `exhaustive ${t.name} k=${opts.exhaustive}: ${r.states} states`);
    }
  }

  for (const t of targets) {
    const hits = hitsBy.get(t.name) ?? [];
    const profile = t.profiles.find((p) => opts.profiles.includes(p))!;
    // A checker may report a rule outside the target's list (a lifecycle step that leaks a DMA mapping): it is reported too.
    for (const rule of [...new Set([...t.rules, ...hits.map((h) => h.rule)])]) {
      if (opts.rules && !opts.rules.has(rule)) {
        results.push({ implementation: t.name, profile, rule, runs: 0, status: 'not-applicable', violations: [] });
        continue;
      }
      const ids: string[] = [];
      const fps = new Set<string>();
      let allKnown = true;
      for (const h of hits.filter((x) => x.rule === rule)) {
        const v = h.found.violations[h.index]!;
        const explained = h.found.explainedBy[h.index] ?? null;
        const fp = fingerprint(t, rule, explained, h.found.counterexample.input);
        if (fps.has(fp)) continue;
        fps.add(fp);
        const id = `${t.name}/${rule}/${ids.length}`;
        const isKnown = explained !== null || known.has(fp);
        allKnown &&= isKnown;
        if (!isKnown) newCount++;
        ids.push(id);
        records.push({ id, rule, implementation: t.name, profile, ...(explained ? { finding: explained } : {}), message: v.message, evidence: jsonSafe(v.evidence ?? {}), fingerprint: fp, replay: opts.replayCommand(id), known: isKnown, counterexample: focus(h.found.counterexample, rule, v.step) });
      }
      results.push({ implementation: t.name, profile, rule, runs: runsBy.get(t.name) ?? 0, status: ids.length === 0 ? 'pass' : allKnown ? 'known' : 'violation', violations: ids });
    }
  }

  if (opts.corpusDir) {
    mkdirSync(opts.corpusDir, { recursive: true });
    for (const r of records) writeAtomic(join(opts.corpusDir, `${sha(`${r.implementation}|${r.rule}|${canonical(r.counterexample.input)}`)}.json`), `${JSON.stringify({ implementation: r.implementation, rule: r.rule, input: r.counterexample.input }, null, 2)}\n`);
  }

  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'dmabuf-conform', version: TOOL_VERSION },
    seed: opts.seed,
    profiles: opts.profiles,
    budget: { runs: opts.runs, ...(opts.timeMs === undefined ? {} : { timeMs: opts.timeMs }), ...(opts.exhaustive === undefined ? {} : { exhaustive: opts.exhaustive }) },
    implementations: targets.map((t) => ({ name: t.name, kind: t.kind, profiles: t.profiles })),
    summary: { checks: results.filter((r) => r.status !== 'not-applicable').length, violations: records.length, known: records.filter((r) => r.known).length, new: newCount },
    results,
    violations: records,
    timings: { totalMs: Math.round(performance.now() - t0), perImplementationMs: Object.fromEntries(Object.entries(perImpl).map(([k, v]) => [k, Math.round(v)])) },
  };
  return { report, newCount };
}

/** The baseline that accepts every violation of a report. Documented findings need no entry:
 *  they are known by their id (reports/FINDINGS.md) wherever they show. */
export function baselineOf(report: Report): Baseline {
  const findings = new Map<string, BaselineEntry>();
  for (const v of report.violations) if (!v.finding && !findings.has(v.fingerprint)) findings.set(v.fingerprint, { fingerprint: v.fingerprint, implementation: v.implementation, rule: v.rule, why: v.message });
  return { version: 1, findings: [...findings.values()] };
}

/** A baseline written over an older one keeps the older entries of implementations this run did not check. */
export function mergeBaseline(older: Baseline, newer: Baseline, checked: ReadonlySet<string>): Baseline {
  return { version: 1, findings: [...older.findings.filter((f) => !checked.has(f.implementation)), ...newer.findings] };
}
