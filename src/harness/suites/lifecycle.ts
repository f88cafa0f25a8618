// The lifecycle suite: exporter and importer plugins driven side by side with
// models/lifecycle.ts (fc.commands + fc.asyncModelRun, lifecycleProperty),
// then the races reviewers worried about under fc.scheduler. Every plugin,
// bundled or the user's, runs guarded (PLUGIN-THROW, PLUGIN-TIMEOUT).
import fc from 'fast-check';
import type { LcCmd } from '../../../models/lifecycle.ts';
import { spec, type Profile } from '../../../models/profiles.ts';
import type { Step } from '../../report/types.ts';
import type { RuleId } from '../../rules/registry.ts';
import type { Violation } from '../../rules/violation.ts';
import { matchExporter, vfioPci, vfioPciMainline, type MatchProfile } from '../bundled.ts';
import { exhaustive } from '../exhaustive.ts';
import { guardExporter, guardImporter } from '../guard.ts';
import { explainAll, explainRace, failureOf, lifecycleProperty, type FindingLog, type LcJudge, type SameRace } from '../lifecycle-prop.ts';
import { faithfulImporters } from '../lifecycle-reference.ts';
import { shrinkFinding } from '../lifecycle-shrink.ts';
import { lanesOf, lcInput, opName, readLcInput, runLifecycle, type Real, type LifecycleConfig } from '../lifecycle.ts';
import type { LcSetup } from '../../gen/lifecycle.ts';
import type { Platform } from '../../kernel/platform.ts';
import type { ExporterPlugin, ImporterPlugin, Plugin } from '../plugin.ts';
import { pictureFor } from '../picture.ts';
import { onMachine, race, RACE_SCENARIOS, raceMachineArb, racePairArb, raceReference, raceScheduler } from '../race.ts';
import type { RacePair } from '../race-pairs.ts';
import { normalizeCmd } from '../lifecycle.ts';
import { thrownReport } from '../../kernel/callsite.ts';
import { family, fromInput, timeLimit, toInput, type Found, type Search, type SearchOptions, type Suite, type Target } from '../suite.ts';

// The create path and the DMA importer's mapping are judged at every create and map too (src/harness/lifecycle.ts).
export const LIFECYCLE_RULES: RuleId[] = [...family('LOCK'), ...family('REV'), ...family('UAF'), ...family('IOMMUFD'), ...family('PLUGIN'), 'PAL-INPUT', 'PAL-FILL', 'PAL-SIZE', 'PAL-LIST', 'PAL-UNWIND', 'ROUTE-BUSADDR', 'ROUTE-NOMAP', 'LEN-ADDR'];

/** Commands per generated lifecycle. */
export const MAX_COMMANDS = 16;
/** The serial search gets this many times the runner's budget: a run is a whole command sequence,
 *  and the states where revoke bugs live (closed, reset, cleaned) are several commands deep. */
const SERIAL_FACTOR = 5;
/** The race search after the serial one gets runs / RACE_DIVISOR race cases (a pair and a schedule each). */
const RACE_DIVISOR = 2;
/** Race cases tried before the serial search: each of the reviewers' races in turn, 4 schedules each (a race-only bug
 *  of those shows in a few). The generated pairs come after the serial search, which finds and shrinks what one
 *  command after the other shows too (a create racing a PM exit that forgets to unrevoke is a serial bug). */
const RACE_FIRST_RUNS = 4;
/** The race search after the serial one runs on the run's seed xor this. */
const RACE_SEED_MIX = 0x2545f491;

export function lifecycleConfig(exporter: ExporterPlugin, importers: { dma: ImporterPlugin; iommufd: ImporterPlugin }, profile?: Profile): LifecycleConfig {
  return { exporter: guardExporter(exporter), importers: { dma: guardImporter(importers.dma), iommufd: guardImporter(importers.iommufd) }, devices: 2, route: 'THRU_HOST_BRIDGE', ...(profile ? { profile } : {}) };
}

async function lifecycleFound(cfg: LifecycleConfig, cmds: readonly LcCmd[], setup?: LcSetup): Promise<Found> {
  const run = await runLifecycle(cfg, cmds, { keepGoing: true, ...(setup ? { setup } : {}) });
  const explainedBy = await explainAll({ cfg, setup, names: run.names, results: run.results }, run.violations, cmds);
  const failing = Math.max(0, run.steps.findIndex((s) => s.rule));
  return { violations: run.violations, explainedBy, counterexample: { suite: 'lifecycle', steps: run.steps, failingStep: failing, ...pictureFor(setup?.dmaRoute ?? cfg.route, setup), input: lcInput(cmds, setup, cfg.platform ?? setup?.platform) } };
}

const propertyOf = (cfg: LifecycleConfig, judge: LcJudge, stateAware = true) => lifecycleProperty(cfg, { stateAware, maxCommands: MAX_COMMANDS, judge, drawPlatform: true });

/** Something threw past the guarded hooks (a dma-buf op the core calls, say): re-run the
 *  same seeded search (it is deterministic) and report the shrunk throw as PLUGIN-THROW. */
async function thrownFound(cfg: LifecycleConfig, rules: readonly RuleId[], seed: number, runs: number, stateAware = true): Promise<Found> {
  const out = await fc.check(propertyOf(cfg, { want: (v) => rules.includes(v.rule) }, stateAware), { seed, numRuns: runs });
  const t = thrownReport('the implementation threw outside a plugin hook', out.errorInstance);
  const step: Step = { index: 0, from: 'user', to: 'exporter', command: out.counterexample ? fc.stringify(out.counterexample[0]) : 'the generated commands', result: 'threw', expected: 'a result', rule: 'PLUGIN-THROW' };
  return { violations: out.failed ? [{ rule: 'PLUGIN-THROW', message: t.message, evidence: t.evidence }] : [], explainedBy: [null], counterexample: { suite: 'lifecycle', steps: [step], failingStep: 0, input: { thrown: true, rules, seed, runs, ...(stateAware ? {} : { stateAware }), ...(cfg.platform ? { platform: cfg.platform } : {}) } } };
}

/** A race case's pair as its input records it: the index of a reviewers' race, else the commands (u64s kept exact). */
type RaceOf = number | { prefix: LcCmd[]; a: LcCmd; b: LcCmd };

/** The pair a race input names. */
function pairOfInput(race: RaceOf): RacePair {
  if (typeof race === 'number') {
    const sc = RACE_SCENARIOS[race];
    if (!sc) throw new Error(`no race scenario ${race}`);
    return sc;
  }
  const r = fromInput<{ prefix: LcCmd[]; a: LcCmd; b: LcCmd }>(race);
  return { name: 'generated', prefix: r.prefix.map(normalizeCmd), a: normalizeCmd(r.a), b: normalizeCmd(r.b) };
}

/** The input of a race case: a reviewers' race by its index, a generated pair by its commands. */
function raceOfPair(pair: RacePair): RaceOf {
  const i = RACE_SCENARIOS.indexOf(pair);
  return i >= 0 ? i : (toInput({ prefix: pair.prefix, a: pair.a, b: pair.b }) as RaceOf);
}

/** Re-run a race case exactly and describe it as steps. `path` is the run of the race search's property (its
 *  schedule is the run's: fast-check's scheduler reads a copy of the run's random stream, so the same run with the
 *  pair given as a constant runs the same schedule); the machine is the one the run drew unless `cfg` pins one. */
async function raceFound(cfg: LifecycleConfig, sc: RacePair, seed: number, path: string): Promise<Found> {
  let violations: Violation[] = [];
  let machine = cfg.platform;
  let ran: RaceRun = { cfg, names: new Map(), results: [] };
  let same: SameRace | undefined;
  await fc.check(fc.asyncProperty(raceScheduler(), raceMachineArb, fc.constant(sc), async (s, drawn, p) => {
    machine = onMachine(cfg, drawn).platform;
    const out = await race(onMachine(cfg, drawn), p.prefix, p.a, p.b, s);
    violations = [...out.real.k.log.violations];
    ran = raceRun(out.real);
    same = (e) => raceReference(out.real.cfg, e, p.prefix, p.a, p.b, s);
    return violations.length === 0;
  }), { seed, path, numRuns: 1 });
  const first = violations[0];
  const steps: Step[] = [
    ...sc.prefix.map((c, i) => ({ index: i, ...lanesOf(c), command: opName(c, cfg.importers), result: 'ok', expected: 'ok' })),
    { index: sc.prefix.length, ...lanesOf(sc.a), command: `${opName(sc.a, cfg.importers)} ∥ ${opName(sc.b, cfg.importers)}`, result: first?.rule ?? 'ok', expected: 'as some serial order', ...(first ? { rule: first.rule } : {}) },
  ];
  const name = sc.name === 'generated' ? `${opName(sc.a, cfg.importers)} racing ${opName(sc.b, cfg.importers)}` : sc.name;
  return { violations, explainedBy: await explainRace(ran, violations, sc.prefix, sc.a, sc.b, same), counterexample: { suite: 'lifecycle', steps, failingStep: sc.prefix.length, ...pictureFor(cfg.route), input: { race: raceOfPair(sc), name, seed, path, ...(machine ? { platform: machine } : {}) } } };
}

type RaceRun = Parameters<typeof explainRace>[0];
/** A race's run as its violations are judged: its configuration (with the machine it ran on), names and results. */
const raceRun = (real: Real): RaceRun => ({ cfg: real.cfg, names: real.caseNames(), results: real.results });

/** A documented finding a race run met before the first failure: its pair and the run (fc.check's run n replays as path "n"). */
type RaceFindings = Map<string, { readonly pair: RacePair; readonly path: string }>;

/** A race run (a pair, a schedule, a machine) fails on an unexplained violation of a wanted rule. */
function raceProperty(cfg: LifecycleConfig, pairs: fc.Arbitrary<RacePair>, want: (v: Violation) => boolean, findings: RaceFindings) {
  let run = 0;
  let failed = false;
  return fc.asyncProperty(raceScheduler(), raceMachineArb, pairs, async (s, drawn, pair) => {
    const path = String(run++);
    const out = await race(onMachine(cfg, drawn), pair.prefix, pair.a, pair.b, s);
    const vs = out.real.k.log.violations;
    // Judged on the race's machine: the faithful port runs where the race ran.
    const by = await explainRace(raceRun(out.real), vs, pair.prefix, pair.a, pair.b, (e) => raceReference(out.real.cfg, e, pair.prefix, pair.a, pair.b, s));
    if (!failed) by.forEach((id, i) => {
      if (id !== null && !findings.has(id) && want(vs[i]!)) findings.set(id, { pair, path });
    });
    const ok = !vs.some((v, i) => by[i] === null && want(v));
    failed ||= !ok;
    return ok;
  });
}

type LcInput = { cmds?: LcCmd[]; race?: RaceOf; thrown?: boolean; rules?: RuleId[]; seed?: number; path?: string; runs?: number; stateAware?: boolean; platform?: Platform };

/** The serial search (state-aware fc.commands): its shrunk failure, and the findings met on the way. */
async function serialSearch(cfg: LifecycleConfig, rules: readonly RuleId[], seed: number, runs: number, opts: SearchOptions): Promise<Search> {
  const findings: FindingLog = new Map();
  const want = (v: Violation) => rules.includes(v.rule);
  const out = await fc.check(propertyOf(cfg, { want, findings }, opts.stateAware), { seed, numRuns: runs, ...timeLimit(opts) });
  opts.observe?.(out);
  // One after the other: runs of the kernel's C share its unit process, and a finding that crashes it (C1 under
  // AddressSanitizer) would end the requests of a replay running beside it with its crash. Each finding's case
  // as recorded is the whole run up to it: shrunk first (lifecycle-shrink.ts), so the report shows the few commands that show it.
  const met: Found[] = [];
  for (const [id, x] of findings) met.push(await findingFound(cfg, id, x, want, opts));
  const f = failureOf(out);
  if (f) return { failures: [await lifecycleFound(cfg, f.cmds, f.setup)], findings: met };
  if (out.failed && out.counterexample && rules.includes('PLUGIN-THROW')) return { failures: [await thrownFound(cfg, rules, seed, runs, opts.stateAware)], findings: met };
  return { failures: [], findings: met };
}

/** A documented finding's case, shrunk (lifecycle-shrink.ts). A case met again whose every documented finding the
 *  caller already holds under the same rule (opts.knownFindings: the runner keeps its first case) is described as
 *  recorded: shrinking it would cost runs for a case nobody reports. */
async function findingFound(cfg: LifecycleConfig, id: string, x: { readonly cmds: LcCmd[]; readonly setup: LcSetup }, want: (v: Violation) => boolean, opts: SearchOptions): Promise<Found> {
  const known = opts.knownFindings;
  if (known && [...known].some((k) => k.startsWith(`${id}|`))) {
    const plain = await lifecycleFound(cfg, x.cmds, x.setup);
    if (plain.violations.every((v, i) => plain.explainedBy[i] === null || known.has(`${plain.explainedBy[i]}|${v.rule}`))) return plain;
  }
  return lifecycleFound(cfg, (await shrinkFinding(cfg, id, x, want, timeLimit(opts))).cmds, x.setup);
}

/** `numRuns` race cases (race.ts racePairArb: a reviewers' race or a generated pair, each on a drawn schedule and
 *  machine): the first failure, shrunk, and the findings met on the way. */
async function raceSearch(cfg: LifecycleConfig, rules: readonly RuleId[], seed: number, numRuns: number, opts: SearchOptions, pairs: fc.Arbitrary<RacePair> = racePairArb): Promise<Search> {
  const met: Found[] = [];
  const findings: RaceFindings = new Map();
  const out = await fc.check(raceProperty(cfg, pairs, (v) => rules.includes(v.rule), findings), { seed, numRuns, ...timeLimit(opts) });
  opts.observe?.(out);
  for (const { pair, path } of findings.values()) met.push(await raceFound(cfg, pair, seed, path));
  if (out.failed && out.counterexample && out.counterexamplePath) {
    // The shrunk case: its run's schedule (the scheduler does not shrink) on the machine and pair it shrank to.
    const [, machine, pair] = out.counterexample;
    return { failures: [await raceFound(onMachine(cfg, machine), pair, seed, out.counterexamplePath.split(':')[0]!)], findings: met };
  }
  return { failures: [], findings: met };
}

/** Each of the reviewers' races (RACE_SCENARIOS) in turn, RACE_FIRST_RUNS schedules each: the first failure, and the findings met. */
async function reviewersRaces(cfg: LifecycleConfig, rules: readonly RuleId[], seed: number, opts: SearchOptions): Promise<Search> {
  let met: Found[] = [];
  for (const sc of RACE_SCENARIOS) {
    const one = await raceSearch(cfg, rules, seed, RACE_FIRST_RUNS, opts, fc.constant(sc));
    met = [...met, ...one.findings];
    if (one.failures.length) return { failures: one.failures, findings: met };
  }
  return { failures: [], findings: met };
}

const merge = (a: Search, b: Search): Search => ({ failures: [...a.failures, ...b.failures], findings: [...a.findings, ...b.findings] });

/** A race's failure that its two commands also show one after the other (either order, after the
 *  scenario's prefix) is shown as that serial case: fewer steps, no schedule to follow. */
async function serialIfSo(cfg: LifecycleConfig, rules: readonly RuleId[], found: Search): Promise<Search> {
  const f = found.failures[0];
  const race = (f?.counterexample.input as { race?: RaceOf } | undefined)?.race;
  const sc = race === undefined ? undefined : pairOfInput(race);
  const rule = f?.violations.find((v, i) => f.explainedBy[i] === null && rules.includes(v.rule))?.rule;
  if (!sc || !rule) return found;
  for (const cmds of [[...sc.prefix, sc.a, sc.b], [...sc.prefix, sc.b, sc.a]]) {
    // A serial run that throws past the hooks is the serial search's own kind of failure: keep the race.
    const serial = await lifecycleFound(onMachine(cfg, (f!.counterexample.input as { platform?: Platform }).platform), cmds).catch(() => null);
    if (serial?.violations.some((v, i) => v.rule === rule && serial.explainedBy[i] === null)) return { failures: [serial], findings: found.findings };
  }
  return found;
}

export function lifecycleTarget(name: string, base: LifecycleConfig, kind: Target['kind'], profiles: readonly Profile[] = [base.profile ?? 'v8']): Target {
  // The run's machine when it names one (search), the input's when it names one (replay).
  const on = (platform: Platform | undefined): LifecycleConfig => (platform ? { ...base, platform } : base);
  return {
    name, suite: 'lifecycle', part: 'lifecycle', kind, profiles, rules: LIFECYCLE_RULES,
    async search(seed, runs, skip, opts = {}) {
      const cfg = on(opts.platform);
      const rules = LIFECYCLE_RULES.filter((r) => !skip.has(r));
      // The uniform baseline of the bench is plain fc.commands: no races.
      if (opts.stateAware === false) return serialSearch(cfg, rules, seed, runs, opts);
      const quick = await reviewersRaces(cfg, rules, seed, opts);
      if (quick.failures.length) return serialIfSo(cfg, rules, quick);
      const serial = merge(quick, await serialSearch(cfg, rules, seed, runs * SERIAL_FACTOR, opts));
      if (serial.failures.length) return serial;
      // Another seed than the quick search's, whose cases would come first again (and not the next seed's quick one).
      return serialIfSo(cfg, rules, merge(serial, await raceSearch(cfg, rules, seed ^ RACE_SEED_MIX, Math.max(1, Math.ceil(runs / RACE_DIVISOR)), opts)));
    },
    replay: async (input) => {
      const r = input as LcInput;
      const cfg = on(r.platform);
      if (r.thrown) return thrownFound(cfg, r.rules ?? LIFECYCLE_RULES, r.seed ?? 0, r.runs ?? 1, r.stateAware);
      if (r.race !== undefined) return raceFound(cfg, pairOfInput(r.race), r.seed ?? 0, r.path ?? '');
      const lc = readLcInput(input);
      return lifecycleFound(cfg, lc.cmds, lc.setup);
    },
    async explore(k) {
      const r = await exhaustive(base, k);
      return { states: r.states, inputs: r.violations.map((v) => lcInput(v.path)) };
    },
  };
}

/** A plugin's target name under its i-th profile: the first keeps the plugin's name, the others get `:profile`. */
const nameOf = (p: Plugin, i: number, profile: Profile) => (i === 0 ? p.name : `${p.name}:${profile}`);

function targets(p: Plugin, others: readonly Plugin[]): Target[] {
  const given = others.filter((o): o is ImporterPlugin => o.kind === 'importer');
  // An exporter runs with the importers given beside it (by kind of importer), else the profile's defaults.
  const importersFor = (profile: Profile) => {
    const d = faithfulImporters(profile);
    const pick = (imp: 'dma' | 'iommufd') => given.find((x) => x.importer === imp && x.profiles.includes(profile)) ?? d[imp];
    return { dma: pick('dma'), iommufd: pick('iommufd') };
  };
  // An importer is checked against the exporter given with it, else the bundled VFIO exporter of its profile.
  const hostOf = (profile: Profile) => others.find((o): o is ExporterPlugin => o.kind === 'exporter' && o.profiles.includes(profile)) ?? (spec(profile).mappingTypes ? matchExporter(profile as MatchProfile) : spec(profile).revokeWaits ? vfioPciMainline : vfioPci);
  if (p.kind === 'exporter') return p.profiles.map((profile, i) => lifecycleTarget(nameOf(p, i, profile), lifecycleConfig(p, importersFor(profile), profile), p.kind));
  if (p.kind === 'importer') return p.profiles.map((profile, i) => lifecycleTarget(nameOf(p, i, profile), lifecycleConfig(hostOf(profile), { ...faithfulImporters(profile), [p.importer]: p }, profile), p.kind));
  return [];
}

export const lifecycleSuite: Suite = { id: 'lifecycle', rules: LIFECYCLE_RULES, targets };
