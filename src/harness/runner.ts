// The conformance runner: searches every target for violations (fast-check,
// seeded, shrunk), replays the failure corpus first, classifies each
// violation as known (baseline) or new, and builds the JSON report.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../commands/usage.ts';
import { readJsonFile } from '../report/validate.ts';
import type { Profile } from '../../models/profiles.ts';
import { isCheck, REPORT_SCHEMA_VERSION, type Counterexample, type Report, type RuleResult, type ViolationRecord } from '../report/types.ts';
import type { RuleId } from '../rules/registry.ts';
import { jsonSafe } from '../rules/violation.ts';
import type { Found, RunCounts, SearchOptions, Target } from './suite.ts';
import type { Platform } from '../kernel/platform.ts';

export const TOOL_VERSION = '0.1.0';
/** Searches per target and round: each looks for rules the earlier ones did not show, and the
 *  round ends at the first search that shows nothing new. */
const MAX_SEARCHES = 16;
/** With --time D the searches get this part of D; the run ends within D + 10 % (the in-flight run, shrunk failures replayed, reports). */
const SEARCH_SHARE = 0.95;
/** How often a running round's progress is told (Progress.searching). */
const LIVE_MS = 5000;

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
  /** A heartbeat while `target`'s round runs (every LIVE_MS): the cases its searches have run so far in it. */
  readonly searching?: { readonly cases: number; readonly ms: number };
  readonly target: string;
  readonly profile: Profile;
  readonly done: number;
  readonly total: number;
  /** Runs done so far, every implementation. */
  readonly runs: number;
  /** Violations so far as the report counts them (summary.violations: one per fingerprint), every implementation. */
  readonly violations: number;
  /** Of those, the ones neither a documented finding nor the baseline knows (summary.new). */
  readonly newOnes: number;
}

export interface RunOptions {
  readonly seed: number;
  readonly runs: number;
  readonly timeMs?: number;
  readonly exhaustive?: number;
  readonly profiles: readonly Profile[];
  readonly rules?: ReadonlySet<RuleId>;
  /** The targets, run in this thread one at a time; or give `executor`. */
  readonly targets?: readonly Target[];
  /** Where the targets run (src/harness/pool.ts: isolated workers, in parallel). */
  readonly executor?: Executor;
  readonly baseline: Baseline;
  /** Where counterexamples are written (and read from when `corpus` is not given). */
  readonly corpusDir?: string;
  /** The corpus, already read and validated (readCorpus): replayed first, as regression tests. */
  readonly corpus?: readonly CorpusEntry[];
  /** --shard i/n: only this part of the targets (shardOf). */
  readonly shard?: { readonly index: number; readonly total: number };
  readonly bail: boolean;
  readonly replayCommand: (id: string) => string;
  readonly progress: (p: Progress) => void;
  /** An observer (the bench): told when a rule first shows on a target, with the ms and fast-check runs its searches took until the fc.check that showed it returned (not the parts of the target that ran after it). */
  readonly onHit?: (target: string, rule: RuleId, ms: number, runs: number) => void;
  /** Passed to every search: the bench's uniform baseline (stateAware: false). */
  readonly search?: Pick<SearchOptions, 'stateAware'>;
  /** The simulated machine of this run (--iommu, --dma-map); recorded in the report. Absent: each
   *  case runs on DEFAULT_PLATFORM and the report names none (in-process callers, older tests). */
  readonly platform?: Platform;
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
export function fingerprint(t: Pick<Target, 'name'>, rule: RuleId, explainedBy: string | null, input: unknown): string {
  if (explainedBy) return sha(`finding:${explainedBy}|${rule}`);
  return sha(`${t.name}|${rule}|${canonical(input)}`);
}

/** One rule's first showing on a target: the Found it is in, and which of its violations. */
export interface Hit {
  readonly rule: RuleId;
  readonly found: Found;
  readonly index: number;
}

function hitsOf(found: Found, rules: ReadonlySet<RuleId> | undefined): Hit[] {
  // Per rule its first violation, but one no documented finding explains over one a finding does: a failure
  // whose rule also shows a known finding first (the overlapping link before the unlinked span) is the new one.
  const pick = new Map<RuleId, number>();
  found.violations.forEach((v, index) => {
    if (rules && !rules.has(v.rule)) return;
    const at = pick.get(v.rule);
    if (at === undefined || ((found.explainedBy[at] ?? null) !== null && (found.explainedBy[index] ?? null) === null)) pick.set(v.rule, index);
  });
  return [...pick.entries()].sort(([, a], [, b]) => a - b).map(([rule, index]) => ({ rule, found, index }));
}

export interface CorpusEntry {
  /** The file it was read from, for messages. */
  readonly file: string;
  readonly implementation: string;
  readonly rule: RuleId;
  readonly input: unknown;
}

/**
 * Every `*.json` file of a corpus folder, in name order, each read through the corpus-entry schema.
 * A folder that does not exist yet is an empty corpus.
 * @throws UsageError naming the file and the field of the first bad entry (`x.json: /rule: missing (required)`)
 */
export function readCorpus(dir: string | undefined): CorpusEntry[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const file = join(dir, f);
    const r = readJsonFile('corpus-entry', file);
    if (!r.ok) throw new UsageError(r.error);
    return { file, implementation: r.value.implementation, rule: r.value.rule, input: r.value.input };
  });
}

/**
 * The targets of shard `index` of `total` (1-based), as vitest and playwright shard: by name only, so
 * every machine of a CI matrix computes the same parts. Names are ordered by a hash (a new target does
 * not move the others' order) and dealt round-robin, so the parts differ in size by one at most.
 */
export function shardOf(names: readonly string[], index: number, total: number): Set<string> {
  const order = [...names].sort((a, b) => (sha(a) < sha(b) ? -1 : sha(a) > sha(b) ? 1 : a < b ? -1 : 1));
  return new Set(order.filter((_, i) => i % total === index - 1));
}

/** Time left before an epoch-ms deadline, for fast-check's interruptAfterTimeLimit (none without a deadline). */
export function timeLeft(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
}

/** What one round of one target's searches is given: plain data, so a worker can run it. */
export interface RoundRequest {
  readonly round: number;
  readonly seed: number;
  readonly runs: number;
  /** --rules: only these count (all when absent). */
  readonly rules?: readonly RuleId[];
  /** Rules this target showed in earlier rounds: not searched for again. */
  readonly found: readonly RuleId[];
  /** Documented findings (`finding|rule`) this target showed in earlier rounds: their cases are kept, not shrunk again. */
  readonly knownFindings?: readonly string[];
  /** The corpus cases of this target, replayed first (round 0). */
  readonly corpus: readonly CorpusEntry[];
  /** Only replay the corpus (the runner's first pass: an entry that no longer replays stops the run before any search). */
  readonly replayOnly?: boolean;
  /** --time: the searches stop at this time (epoch ms, Date.now(): the same clock in every worker). */
  readonly deadline?: number;
  readonly search?: Pick<SearchOptions, 'stateAware' | 'platform'>;
}

/** What it found: new hits (failures and documented findings met), the runs fast-check made, and when each rule first showed. */
export interface RoundResult {
  readonly hits: readonly Hit[];
  readonly runs: number;
  readonly ms: number;
  readonly shown: readonly { readonly rule: RuleId; readonly ms: number; readonly runs: number }[];
  /** The deadline stopped a search (or came before one started): the round did not get its whole budget. */
  readonly interrupted?: boolean;
  /** Corpus entries whose replay threw: `FILE: /input: cannot be replayed (why)`. */
  readonly unreplayable?: readonly string[];
}

/** One round of one target: the corpus first (as regression tests; it does not steer the search, so
 *  a seed gives the same report whatever the corpus holds), then up to MAX_SEARCHES searches, each
 *  for the rules the earlier ones did not show; documented findings met are recorded, never an end. */
export async function targetRound(t: Target, req: RoundRequest): Promise<RoundResult> {
  const ts = performance.now();
  const rules = req.rules ? new Set(req.rules) : undefined;
  const hits: Hit[] = [];
  const shown: { rule: RuleId; ms: number; runs: number }[] = [];
  let runs = 0;
  let interrupted = false;
  const regressions: Hit[] = [];
  const unreplayable: string[] = [];
  for (const e of req.corpus) {
    try {
      regressions.push(...hitsOf(await t.replay(e.input), rules).filter((h) => h.rule === e.rule));
    } catch (x) {
      unreplayable.push(`${e.file}: /input: cannot be replayed (${x instanceof Error ? x.message.split('\n')[0] : String(x)})`);
    }
  }
  if (req.replayOnly || unreplayable.length) return { hits: regressions, runs: 0, ms: performance.now() - ts, shown, ...(unreplayable.length ? { unreplayable } : {}) };
  const skip = new Set<RuleId>([...req.found, ...t.rules.filter((r) => rules && !rules.has(r))]);
  // The runs fast-check made, to the failure or the whole budget (not the budget given). A search's
  // failure shows when the fc.check that failed returns (its shrinking included), not after the parts
  // of a combined target that run after it (a VFIO exporter's export part, 400 runs, after its lifecycle).
  let failedAt: { readonly runs: number; readonly ms: number } | undefined;
  const observe = (d: RunCounts) => {
    runs += d.numRuns;
    interrupted ||= d.interrupted;
    if (d.failed) failedAt ??= { runs, ms: performance.now() - ts };
  };
  const add = (found: readonly Found[]): boolean => {
    const fresh = found.flatMap((f) => hitsOf(f, rules)).filter((h) => !skip.has(h.rule));
    for (const h of fresh) {
      skip.add(h.rule);
      shown.push({ rule: h.rule, ms: failedAt?.ms ?? performance.now() - ts, runs: failedAt?.runs ?? runs });
    }
    hits.push(...fresh);
    return fresh.length > 0;
  };
  const findingId = (h: Hit) => h.found.explainedBy[h.index] ?? null;
  const knownFindings = () => new Set([...(req.knownFindings ?? []), ...findingKeys(hits)]);
  for (let i = 0; i < MAX_SEARCHES && skip.size < t.rules.length; i++) {
    if (timeLeft(req.deadline) === 0) {
      interrupted = true;
      break;
    }
    failedAt = undefined;
    const s = await t.search(req.seed + req.round * 1000 + i, req.runs, skip, { observe, knownFindings: knownFindings(), ...req.search, ...(req.deadline === undefined ? {} : { deadline: req.deadline }) });
    for (const f of s.findings) hits.push(...hitsOf(f, rules).filter((h) => findingId(h) !== null && !hits.some((x) => findingId(x) === findingId(h) && x.rule === h.rule)));
    if (!add(s.failures)) break;
  }
  return { hits: [...hits, ...regressions], runs, ms: performance.now() - ts, shown, ...(interrupted ? { interrupted } : {}) };
}

/** The documented findings among hits, as `finding|rule`. */
function findingKeys(hits: readonly Hit[]): string[] {
  return hits.flatMap((h) => {
    const id = h.found.explainedBy[h.index] ?? null;
    return id === null ? [] : [`${id}|${h.rule}`];
  });
}

/** A target as the runner sees it when it runs elsewhere (a worker): plain data. */
export type TargetInfo = Pick<Target, 'name' | 'suite' | 'part' | 'kind' | 'profiles' | 'rules'> & { readonly explores: boolean };

export const infoOf = (t: Target): TargetInfo => ({ name: t.name, suite: t.suite, part: t.part, kind: t.kind, profiles: t.profiles, rules: t.rules, explores: t.explore !== undefined });

/** Where targets run: in this thread, or in isolated workers (src/harness/pool.ts). */
export interface Executor {
  readonly targets: readonly TargetInfo[];
  /** How many rounds may run at once. */
  readonly parallel: number;
  round(name: string, req: RoundRequest): Promise<RoundResult>;
  /** The rounds running now: each one's target and the cases its searches have run so far (fast-check's runs and
   *  shrink runs: a worker's heartbeat). Absent in this thread (inProcess). */
  activity?(): readonly { readonly target: string; readonly cases: number }[];
  /** --exhaustive K: states seen and the hits of the first inputs that break a rule. */
  explore(name: string, k: number, rules?: readonly RuleId[]): Promise<{ states: number; hits: readonly Hit[] }>;
  close(): Promise<void>;
}

/** Every target in this thread, one at a time: for tests and in-process callers. */
export function inProcess(targets: readonly Target[]): Executor {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const get = (name: string) => byName.get(name)!;
  return {
    targets: targets.map(infoOf), parallel: 1,
    round: (name, req) => targetRound(get(name), req),
    async explore(name, k, rules) {
      const t = get(name);
      const r = await t.explore!(k);
      const hits: Hit[] = [];
      const only = rules ? new Set(rules) : undefined;
      for (const input of r.inputs.slice(0, 4)) hits.push(...hitsOf(await t.replay(input), only).filter((h) => !hits.some((x) => x.rule === h.rule)));
      return { states: r.states, hits };
    },
    close: async () => undefined,
  };
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
  const exec = opts.executor ?? inProcess(opts.targets ?? []);
  try {
    return await conformance(opts, exec);
  } finally {
    if (!opts.executor) await exec.close();
  }
}

async function conformance(opts: RunOptions, exec: Executor): Promise<{ report: Report; newCount: number }> {
  const t0 = performance.now();
  const corpus = opts.corpus ?? readCorpus(opts.corpusDir);
  const known = new Set(opts.baseline.findings.map((f) => f.fingerprint));
  const records: ViolationRecord[] = [];
  const results: RuleResult[] = [];
  const perImpl: Record<string, number> = {};
  let newCount = 0;
  const inProfile = exec.targets.filter((t) => t.profiles.some((p) => opts.profiles.includes(p)));
  const part = opts.shard ? shardOf(inProfile.map((t) => t.name), opts.shard.index, opts.shard.total) : undefined;
  const targets = part ? inProfile.filter((t) => part.has(t.name)) : inProfile;
  const hitsBy = new Map<string, Hit[]>();
  /** The corpus's regressions: reported, never steering the search (a seed gives the same search whatever the corpus holds). */
  const regressBy = new Map<string, Hit[]>();
  const runsBy = new Map<string, number>();
  const cutShort = new Set<string>();
  // Epoch ms: workers share this clock (performance.now() starts anew in each thread). The searches
  // stop at 95 % of the time: the rest is for describing what they found and writing the reports.
  const deadline = opts.timeMs === undefined ? undefined : Date.now() + Math.round(opts.timeMs * SEARCH_SHARE);
  const rules = opts.rules ? [...opts.rules] : undefined;
  const heldFindings = (t: TargetInfo): Pick<RoundRequest, 'knownFindings'> => {
    const keys = [...new Set(findingKeys(hitsBy.get(t.name) ?? []))];
    return keys.length ? { knownFindings: keys } : {};
  };
  const request = (t: TargetInfo, round: number, extra: Partial<RoundRequest> = {}): RoundRequest => ({ round, seed: opts.seed, runs: opts.runs, ...(rules ? { rules } : {}), found: (hitsBy.get(t.name) ?? []).map((h) => h.rule), ...heldFindings(t), corpus: [], ...(opts.search || opts.platform ? { search: { ...opts.search, ...(opts.platform ? { platform: opts.platform } : {}) } } : {}), ...extra });
  const allHits = (name: string) => [...(hitsBy.get(name) ?? []), ...(regressBy.get(name) ?? [])];

  const runRound = async (t: TargetInfo, round: number, roundDeadline: number | undefined) => {
    const r = await exec.round(t.name, request(t, round, roundDeadline === undefined ? {} : { deadline: roundDeadline }));
    for (const s of r.shown) opts.onHit?.(t.name, s.rule, s.ms, (runsBy.get(t.name) ?? 0) + s.runs);
    hitsBy.set(t.name, [...(hitsBy.get(t.name) ?? []), ...r.hits]);
    runsBy.set(t.name, (runsBy.get(t.name) ?? 0) + r.runs);
    perImpl[t.name] = (perImpl[t.name] ?? 0) + r.ms;
    if (round === 0 && r.interrupted) cutShort.add(t.name);
  };

  const profileOf = (t: TargetInfo): Profile => t.profiles.find((p) => opts.profiles.includes(p))!;
  /** A hit as the report records it: the documented finding explaining it, its fingerprint, known or new. */
  const classify = (t: TargetInfo, h: Hit) => {
    const explained = h.found.explainedBy[h.index] ?? null;
    const fp = fingerprint(t, h.rule, explained, h.found.counterexample.input);
    return { explained, fp, known: explained !== null || known.has(fp) };
  };
  const isNew = (t: TargetInfo, h: Hit) => !classify(t, h).known;
  /** What the report will count of a target's hits so far: one violation per fingerprint, rules outside --rules left out. */
  const counted = (t: TargetInfo) => {
    const fps = new Map<string, boolean>();
    for (const h of allHits(t.name)) {
      if (opts.rules && !opts.rules.has(h.rule)) continue;
      const c = classify(t, h);
      if (!fps.has(c.fp)) fps.set(c.fp, c.known);
    }
    return [...fps.values()];
  };
  // The progress line counts what the final summary counts (report.summary: violations, known, new), so far.
  const tell = (t: TargetInfo, done: number, total: number, label = t.name, searching?: Progress['searching']) => {
    const seen = targets.flatMap(counted);
    const runs = [...runsBy.values()].reduce((a, b) => a + b, 0);
    opts.progress({ target: label, profile: profileOf(t), done, total, runs, violations: seen.length, newOnes: seen.filter((k) => !k).length, ...(searching ? { searching } : {}) });
  };
  const anyNew = () => targets.some((t) => allHits(t.name).some((h) => isNew(t, h)));
  const timeUp = () => deadline !== undefined && Date.now() >= deadline;
  /** Up to exec.parallel jobs at once, in target order; each target's result depends only on its own
   *  inputs, so the report is the same whatever order they finish in. */
  const lanes = async (list: readonly TargetInfo[], job: (t: TargetInfo, i: number) => Promise<boolean>) => {
    let next = 0;
    const lane = async () => {
      while (next < list.length) {
        const i = next++;
        if (!(await job(list[i]!, i))) break;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, exec.parallel) }, lane));
  };

  // The corpus first, before any search: an entry that no longer replays is bad input.
  // A worker's crash or hang (part 'isolation': PLUGIN-EXIT, PLUGIN-TIMEOUT ...) names the seed and round, not a case
  // a target can replay: never written to the corpus, and skipped in a corpus an earlier version wrote.
  const replayable = (input: unknown) => (input as { part?: unknown } | null)?.part !== 'isolation';
  const entriesOf = new Map(targets.map((t) => [t.name, corpus.filter((e) => e.implementation === t.name && replayable(e.input))]));
  const withCorpus = targets.filter((t) => entriesOf.get(t.name)!.length > 0);
  const unreplayable: string[] = [];
  await lanes(withCorpus, async (t) => {
    const r = await exec.round(t.name, request(t, 0, { corpus: entriesOf.get(t.name)!, replayOnly: true }));
    regressBy.set(t.name, [...r.hits]);
    perImpl[t.name] = (perImpl[t.name] ?? 0) + r.ms;
    unreplayable.push(...(r.unreplayable ?? []));
    return unreplayable.length === 0;
  });
  if (unreplayable.length) throw new UsageError(unreplayable.sort()[0]!);

  // A round can run for minutes (a C unit whose every crash costs a process): every LIVE_MS the progress tells
  // each running round's target and the cases its searches have run so far (the workers' heartbeats).
  let done = 0;
  const began = new Map<string, number>();
  const live = exec.activity && setInterval(() => {
    for (const a of exec.activity!()) {
      const t = targets.find((x) => x.name === a.target);
      if (t) tell(t, done, targets.length, t.name, { cases: a.cases, ms: Date.now() - (began.get(t.name) ?? Date.now()) });
    }
  }, LIVE_MS);
  live?.unref?.();
  for (let round = 0; ; round++) {
    done = 0;
    await lanes(targets, async (t, i) => {
      if (opts.bail && anyNew()) return false;
      if (timeUp()) {
        if (round === 0) cutShort.add(t.name);
        return round === 0;
      }
      // Round 0 shares the time left fairly among the targets not started yet, so each gets its part;
      // later rounds run to the deadline.
      const share = deadline === undefined ? undefined : round > 0 ? deadline : Math.min(deadline, Date.now() + ((deadline - Date.now()) * Math.max(1, exec.parallel)) / (targets.length - i));
      began.set(t.name, Date.now());
      await runRound(t, round, share);
      tell(t, ++done, targets.length);
      return true;
    });
    if (!deadline || timeUp() || (opts.bail && anyNew())) break;
  }
  if (live) clearInterval(live);

  const k = opts.exhaustive;
  if (k !== undefined) {
    // Each exploration in a worker, as many at once as the pool has (they were one after another: one core idle).
    await lanes(targets.filter((x) => x.explores), async (t) => {
      const r = await exec.explore(t.name, k, rules);
      const hits = hitsBy.get(t.name) ?? [];
      hitsBy.set(t.name, [...hits, ...r.hits.filter((h) => !hits.some((x) => x.rule === h.rule))]);
      tell(t, 1, 1, `exhaustive ${t.name} k=${k}: ${r.states} states`);
      return true;
    });
  }

  /** Why a target's search ran no case: its worker stopped (the isolation finding), the deadline, --bail. */
  const whyUnchecked = (t: TargetInfo): string => {
    const lost = allHits(t.name).find((h) => (h.found.counterexample.input as { part?: unknown } | null)?.part === 'isolation');
    if (lost) return `${lost.rule} stopped ${t.name}'s search before any case ran`;
    if (cutShort.has(t.name)) return `--time ${opts.timeMs} ms ran out before ${t.name}'s search ran a case`;
    if (opts.bail && anyNew()) return `--bail stopped the run at a new violation before ${t.name}'s search`;
    return `${t.name}'s search ran no case`;
  };
  for (const t of targets) {
    const hits = allHits(t.name);
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
        const { explained, fp, known: isKnown } = classify(t, h);
        if (fps.has(fp)) continue;
        fps.add(fp);
        const id = `${t.name}/${rule}/${ids.length}`;
        allKnown &&= isKnown;
        if (!isKnown) newCount++;
        ids.push(id);
        records.push({ id, rule, implementation: t.name, profile, ...(explained ? { finding: explained } : {}), message: v.message, evidence: jsonSafe(v.evidence ?? {}), fingerprint: fp, replay: opts.replayCommand(id), known: isKnown, counterexample: focus(h.found.counterexample, rule, v.step) });
      }
      const runs = runsBy.get(t.name) ?? 0;
      // A rule no case ran has not passed: it is not checked, and the report says why.
      if (ids.length === 0 && runs === 0) results.push({ implementation: t.name, profile, rule, runs, status: 'not-checked', why: whyUnchecked(t), violations: ids });
      else results.push({ implementation: t.name, profile, rule, runs, status: ids.length === 0 ? 'pass' : allKnown ? 'known' : 'violation', violations: ids });
    }
  }

  if (opts.corpusDir) {
    mkdirSync(opts.corpusDir, { recursive: true });
    for (const r of records.filter((x) => replayable(x.counterexample.input))) writeAtomic(join(opts.corpusDir, `${sha(`${r.implementation}|${r.rule}|${canonical(r.counterexample.input)}`)}.json`), `${JSON.stringify({ implementation: r.implementation, rule: r.rule, input: r.counterexample.input }, null, 2)}\n`);
  }

  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'dmabuf-conform', version: TOOL_VERSION },
    seed: opts.seed,
    profiles: opts.profiles,
    ...(opts.platform ? { platform: opts.platform } : {}),
    budget: { runs: opts.runs, ...(opts.timeMs === undefined ? {} : { timeMs: opts.timeMs, cutShort: targets.map((t) => t.name).filter((n) => cutShort.has(n)) }), ...(opts.exhaustive === undefined ? {} : { exhaustive: opts.exhaustive }) },
    ...(opts.corpusDir === undefined ? {} : { corpus: { path: opts.corpusDir, replayed: withCorpus.reduce((n, t) => n + entriesOf.get(t.name)!.length, 0) } }),
    ...(opts.shard ? { shard: { ...opts.shard, implementations: inProfile.map((t) => t.name) } } : {}),
    implementations: targets.map((t) => ({ name: t.name, kind: t.kind, profiles: t.profiles })),
    summary: { checks: results.filter((r) => isCheck(r.status)).length, violations: records.length, known: records.filter((r) => r.known).length, new: newCount },
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
