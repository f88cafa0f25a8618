// The lifecycle suite: exporter and importer plugins driven side by side with
// models/lifecycle.ts (fc.commands + fc.asyncModelRun, lifecycleProperty),
// then the races reviewers worried about under fc.scheduler. Every plugin,
// bundled or the user's, runs guarded (PLUGIN-THROW, PLUGIN-TIMEOUT).
import fc from 'fast-check';
import type { LcCmd } from '../../../models/lifecycle.ts';
import { spec, type Profile } from '../../../models/profiles.ts';
import { matchImporters } from '../../impl/match_importers.ts';
import { matchExporter, type MatchProfile } from '../../rules/match-lifecycle.ts';
import type { Step } from '../../report/types.ts';
import type { RuleId } from '../../rules/registry.ts';
import type { Violation } from '../../rules/violation.ts';
import { bundledExporters, bundledImporters, dmaImporter, iommufdImporter, vfioPci } from '../bundled.ts';
import { exhaustive } from '../exhaustive.ts';
import { guardExporter, guardImporter } from '../guard.ts';
import { failureOf, LIFECYCLE_FINDINGS, lifecycleProperty, unexplainedLc } from '../lifecycle-prop.ts';
import { lanesOf, opName, runLifecycle, type LifecycleConfig } from '../lifecycle.ts';
import type { ExporterPlugin, ImporterPlugin } from '../plugin.ts';
import { pictureFor } from '../picture.ts';
import { race, RACE_SCENARIOS, raceScheduler } from '../race.ts';
import { family, type Found, type PluginSet, type Suite, type Target } from '../suite.ts';

export const LIFECYCLE_RULES: RuleId[] = [...family('LOCK'), ...family('REV'), ...family('UAF'), ...family('IOMMUFD'), ...family('PLUGIN')];

/** Commands per generated lifecycle. */
export const MAX_COMMANDS = 16;
/** Each race scenario gets runs / RACE_DIVISOR scheduler runs: two operations have few interleavings. */
const RACE_DIVISOR = 10;
/** Scheduler runs per race scenario tried before the serial search: a race-only bug shows in a few. */
const RACE_FIRST_RUNS = 4;

export function lifecycleConfig(exporter: ExporterPlugin, importers: { dma: ImporterPlugin; iommufd: ImporterPlugin }, profile?: Profile): LifecycleConfig {
  return { exporter: guardExporter(exporter), importers: { dma: guardImporter(importers.dma), iommufd: guardImporter(importers.iommufd) }, devices: 2, route: 'THRU_HOST_BRIDGE', ...(profile ? { profile } : {}) };
}

/** Whose documented findings apply: the exporter's own, or those of the bundled exporter it is based on. */
const findingsName = (cfg: LifecycleConfig): string => {
  const base = cfg.exporter.basedOn;
  if (base === undefined) return cfg.exporter.name;
  return cfg.profile === undefined || cfg.profile === 'v8' ? base : `${base}:${cfg.profile}`;
};

/** For each violation, the documented finding that explains it (null for the unexplained ones). */
function explainedByFindings(violations: readonly Violation[], unexplained: readonly Violation[]): (string | null)[] {
  return violations.map((v) => (unexplained.includes(v) ? null : LIFECYCLE_FINDINGS.find((f) => f.rule === v.rule)?.id ?? null));
}

async function lifecycleFound(cfg: LifecycleConfig, cmds: readonly LcCmd[]): Promise<Found> {
  const run = await runLifecycle(cfg, cmds, { keepGoing: true });
  const unexplained = unexplainedLc(findingsName(cfg), run.violations, cmds);
  const explainedBy = explainedByFindings(run.violations, unexplained);
  const failing = Math.max(0, run.steps.findIndex((s) => s.rule));
  return { violations: run.violations, explainedBy, counterexample: { suite: 'lifecycle', steps: run.steps, failingStep: failing, ...pictureFor(cfg.route), input: { cmds } } };
}

const propertyOf = (cfg: LifecycleConfig, failOn: RuleId | undefined, stateAware = true) => lifecycleProperty(cfg, { stateAware, maxCommands: MAX_COMMANDS, findingsToo: true, ...(failOn ? { failOn } : {}) });

/** Something threw past the guarded hooks (a dma-buf op the core calls, say): re-run the
 *  same seeded search (it is deterministic) and report the shrunk throw as PLUGIN-THROW. */
async function thrownFound(cfg: LifecycleConfig, failOn: RuleId | undefined, seed: number, runs: number, stateAware = true): Promise<Found> {
  const out = await fc.check(propertyOf(cfg, failOn, stateAware), { seed, numRuns: runs });
  const e = out.errorInstance;
  const message = `the implementation threw outside a plugin hook: ${e instanceof Error ? e.message : String(e)}`;
  const step: Step = { index: 0, from: 'user', to: 'exporter', command: out.counterexample ? fc.stringify(out.counterexample[0]) : 'the generated commands', result: 'threw', expected: 'a result', rule: 'PLUGIN-THROW' };
  return { violations: out.failed ? [{ rule: 'PLUGIN-THROW', message }] : [], explainedBy: [null], counterexample: { suite: 'lifecycle', steps: [step], failingStep: 0, input: { thrown: true, ...(failOn ? { failOn } : {}), seed, runs, ...(stateAware ? {} : { stateAware }) } } };
}

/** Re-run a race case exactly (fast-check seed and path) and describe it as steps. */
async function raceFound(cfg: LifecycleConfig, scenario: number, seed: number, path: string): Promise<Found> {
  const sc = RACE_SCENARIOS[scenario];
  if (!sc) throw new Error(`no race scenario ${scenario}`);
  let violations: Violation[] = [];
  await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
    violations = [...(await race(cfg, sc.prefix, sc.a, sc.b, s)).real.k.log.violations];
    return violations.length === 0;
  }), { seed, path, numRuns: 1 });
  const first = violations[0];
  const steps: Step[] = [
    ...sc.prefix.map((c, i) => ({ index: i, ...lanesOf(c), command: opName(c), result: 'ok', expected: 'ok' })),
    { index: sc.prefix.length, ...lanesOf(sc.a), command: `${opName(sc.a)} ∥ ${opName(sc.b)}`, result: first?.rule ?? 'ok', expected: 'as some serial order', ...(first ? { rule: first.rule } : {}) },
  ];
  const unexplained = unexplainedRace(cfg, sc, violations);
  const explainedBy = explainedByFindings(violations, unexplained);
  return { violations, explainedBy, counterexample: { suite: 'lifecycle', steps, failingStep: sc.prefix.length, ...pictureFor(cfg.route), input: { race: scenario, name: sc.name, seed, path } } };
}

/** The violations of a race that no documented finding explains as it would the same command run serially (either racer). */
function unexplainedRace(cfg: LifecycleConfig, sc: (typeof RACE_SCENARIOS)[number], violations: readonly Violation[]): Violation[] {
  const [a, b] = [sc.a, sc.b].map((c) => unexplainedLc(findingsName(cfg), violations, [...sc.prefix, c]));
  return a!.filter((v) => b!.includes(v));
}

/** A race run fails on an unexplained violation of a wanted rule. */
function raceProperty(cfg: LifecycleConfig, sc: (typeof RACE_SCENARIOS)[number], rules: readonly RuleId[]) {
  return fc.asyncProperty(raceScheduler(), async (s) => {
    const out = await race(cfg, sc.prefix, sc.a, sc.b, s);
    return !unexplainedRace(cfg, sc, out.real.k.log.violations).some((v) => rules.includes(v.rule));
  });
}

type LcInput = { cmds?: LcCmd[]; race?: number; thrown?: boolean; failOn?: RuleId; seed?: number; path?: string; runs?: number; stateAware?: boolean };

export function lifecycleTarget(name: string, cfg: LifecycleConfig, kind: Target['kind'], opts: { bugOf?: RuleId; profiles?: readonly Profile[] } = {}): Target {
  const { bugOf } = opts;
  return {
    name, suite: 'lifecycle', kind, profiles: opts.profiles ?? ['v8'], rules: LIFECYCLE_RULES, ...(bugOf ? { bugOf } : {}),
    findings: LIFECYCLE_FINDINGS.filter((f) => f.exporters.includes(findingsName(cfg))).map((f) => ({ id: f.id, rules: [f.rule] })),
    // A plugin based on a bundled exporter, or an importer checked against one, inherits its documented findings.
    ...(findingsName(cfg) !== name ? { findingsOf: findingsName(cfg) } : {}),
    async search(seed, runs, skip, opts = {}) {
      const rules = LIFECYCLE_RULES.filter((r) => !skip.has(r));
      // Searching for one rule (a seeded bug's own): only it fails a run, so the search and the shrinking keep to it.
      const failOn = rules.length === 1 ? rules[0] : undefined;
      const races = async (numRuns: number): Promise<Found | null> => {
        for (const [i, sc] of RACE_SCENARIOS.entries()) {
          const out = await fc.check(raceProperty(cfg, sc, rules), { seed, numRuns });
          opts.observe?.(out);
          if (out.failed && out.counterexamplePath) return raceFound(cfg, i, seed, out.counterexamplePath);
        }
        return null;
      };
      // The uniform baseline of the bench is plain fc.commands: no races.
      const quick = opts.stateAware === false ? null : await races(RACE_FIRST_RUNS);
      if (quick) return quick;
      const out = await fc.check(propertyOf(cfg, failOn, opts.stateAware), { seed, numRuns: runs });
      opts.observe?.(out);
      const f = failureOf(out);
      if (f && f.violations.some((v) => rules.includes(v.rule))) return lifecycleFound(cfg, f.cmds);
      if (out.failed && !f && rules.includes('PLUGIN-THROW')) return thrownFound(cfg, failOn, seed, runs, opts.stateAware);
      return opts.stateAware === false ? null : races(Math.max(1, Math.ceil(runs / RACE_DIVISOR)));
    },
    replay: async (input) => {
      const r = input as LcInput;
      if (r.thrown) return thrownFound(cfg, r.failOn, r.seed ?? 0, r.runs ?? 1, r.stateAware);
      return r.race === undefined ? lifecycleFound(cfg, r.cmds ?? []) : raceFound(cfg, r.race, r.seed ?? 0, r.path ?? '');
    },
    async explore(k) {
      const r = await exhaustive(cfg, k);
      return { states: r.states, inputs: r.violations.map((v) => ({ cmds: [...v.path] })) };
    },
  };
}

const V8_IMPORTERS = { dma: dmaImporter, iommufd: iommufdImporter };

/** The importers a profile attaches with: v8's, or those that attach by match-making. */
const importersOf = (p: Profile) => (spec(p).mappingTypes ? matchImporters(p) : V8_IMPORTERS);

/** A plugin under every profile it declares; the first keeps the plugin's name, the others get `:profile`. */
function perProfile<P extends ExporterPlugin | ImporterPlugin>(p: P, make: (name: string, profile: Profile) => Target): Target[] {
  return p.profiles.map((profile, i) => make(i === 0 ? p.name : `${p.name}:${profile}`, profile));
}

function targets(plugins?: PluginSet): Target[] {
  const exporters = plugins ? plugins.exporters ?? [] : bundledExporters();
  const importers = plugins ? plugins.importers ?? [] : bundledImporters().filter((p) => p.bugOf);
  // An importer is checked against the exporter given with it, else the bundled VFIO exporter of its profile.
  const hostOf = (p: Profile) => exporters.find((e) => !e.bugOf && e.profiles.includes(p)) ?? (spec(p).mappingTypes ? matchExporter(p as MatchProfile) : vfioPci);
  const kindOf = (p: ExporterPlugin | ImporterPlugin): Target['kind'] => (p.bugOf ? 'bug' : p.kind);
  const opts = (p: ExporterPlugin | ImporterPlugin, profile: Profile) => ({ profiles: [profile], ...(p.bugOf ? { bugOf: p.bugOf } : {}) });
  return [
    ...exporters.flatMap((e) => perProfile(e, (name, profile) => lifecycleTarget(name, lifecycleConfig(e, importersOf(profile), profile), kindOf(e), opts(e, profile)))),
    ...importers.flatMap((i) => perProfile(i, (name, profile) => lifecycleTarget(name, lifecycleConfig(hostOf(profile), { ...importersOf(profile), [i.importer]: i }, profile), kindOf(i), opts(i, profile)))),
  ];
}

export const lifecycleSuite: Suite = { id: 'lifecycle', rules: LIFECYCLE_RULES, targets };
