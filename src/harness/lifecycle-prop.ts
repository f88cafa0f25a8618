// The lifecycle as a fast-check model-based property (fc.commands +
// fc.asyncModelRun): every generated command runs on the model and on the
// implementation; a step that breaks a wanted rule not explained by a
// documented finding fails the run, and fast-check shrinks the command list.
// A documented finding met on the way is recorded (the commands that showed
// it) and the run goes on: a known finding never ends a search.
import fc from 'fast-check';
import { step, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import type { Profile } from '../../models/profiles.ts';
import type { RuleId } from '../rules/registry.ts';
import { beat } from './heartbeat.ts';
import type { Violation } from '../rules/violation.ts';
import { compareStep, opName, resolve, Real, type GenCmd, type LifecycleConfig } from './lifecycle.ts';
import { genCmdArb, setupArb, type LcSetup } from '../gen/lifecycle.ts';
import { platformArb } from './suite.ts';
import { behaviour, shownBy } from '../rules/behaviour.ts';
import { afterCrash } from '../kernel-c/sites.ts';
import { faithfulExporter, referenceRun, type DesignPort, type ReferenceRun } from './lifecycle-reference.ts';
import type { ExporterPlugin } from './plugin.ts';

export interface LcModel {
  state: LcState;
  readonly stateAware: boolean;
  steps: number;
  cmds: LcCmd[];
  /** A command returned other than the model said: from here the two sides name different objects
   *  (buf0 of one is buf1 of the other), so the rest of the run is not judged (its commands are skipped). */
  diverged: boolean;
}

/** A documented finding of a design's VFIO exporter (reports/FINDINGS.md): the profiles whose code has it, and
 *  the exact behaviour (the command and the checker's evidence, `applies`). It explains a violation only when that
 *  predicate holds and the design's faithful system (lifecycle-reference.ts: the profile's bundled VFIO exporter, or
 *  the port named by `port`, with the profile's importers) shows the same violation on the same setup, machine and
 *  commands, at the same step (src/rules/behaviour.ts): a copy of the port keeps its known findings, and a
 *  different bug that happens to fit the predicate is new. */
export interface LifecycleFinding {
  readonly id: string;
  readonly rule: RuleId;
  readonly profiles: readonly Profile[];
  /** The bundled port whose behaviour this is, when it is not the profile's faithful exporter. */
  readonly port?: DesignPort;
  /** The behaviour corrupts the kernel's state (a double free, a reference put twice): what the run does
   *  after it is undefined, as on a real kernel, so the rest of the run is not judged. */
  readonly corrupts?: boolean;
  applies(c: LcCmd, v: Violation): boolean;
}

const isFdFault = (c: LcCmd) => c.op === 'create' && c.fault === 'fd';
/** A device path that may unrevoke (vfio_pci_dma_buf_move(vdev, false) when memory is enabled after it). */
const unrevokes = (c: LcCmd) => c.op === 'hot-reset' || (c.op === 'event' && ['mem-on', 'flr', 'af-flr', 'reset', 'd3-exit', 'pm-exit'].includes(c.event));
/** A C site or sanitizer summary in vfio_pci_core_feature_dma_buf(). */
const inCreate = (site: unknown) => typeof site === 'string' && /\bvfio_pci_core_feature_dma_buf\b/.test(site);

export const LIFECYCLE_FINDINGS: readonly LifecycleFinding[] = [
  // L1: vfio_pci_dma_buf_cleanup() notifies a dma-buf that a revoke before it already revoked.
  { id: 'cleanup-notifies-revoked', rule: 'REV-NOTIFY', profiles: ['v8', 'rfc', 'converter'], applies: (c, v) => c.op === 'event' && c.event === 'close' && v.evidence?.['model'] === 0 && v.evidence?.['port'] === 1 },
  // L2: the un-revoke's move_notify reaches an iommufd attachment that the revoke before it already revoked; a move without a revoke is not this finding.
  // An attachment that joined while its dma-buf was revoked gets the un-revoke's notify alone: an iommufd attach racing a
  // revoke path (vfio_pci_dma_buf_attach() tests priv->revoked under no lock, 002 v8 10/11; race.ts), at the path that unrevokes.
  { id: 'unrevoke-notifies-iommufd', rule: 'REV-IMPORTER', profiles: ['v8', 'rfc', 'converter', 'mainline'], applies: (c, v) => v.evidence?.['afterRevoke'] === true || (v.evidence?.['afterRevoke'] === false && unrevokes(c)) },
  // reports/FINDINGS.md D1: the drain as first merged (1a8a5227f229): close revokes and drains a dma-buf a revoke already
  // drained: a second invalidate (REV-NOTIFY), a kref_put at zero and a wait_for_completion() nobody completes (REV-DRAIN).
  { id: 'first-drain-close-double-put', rule: 'REV-DRAIN', profiles: ['mainline'], port: 'first-drain', applies: (c, v) => c.op === 'event' && c.event === 'close' && v.evidence?.['underflow'] === true && String(v.evidence?.['site']) === 'vfio_pci_dma_buf_cleanup' },
  { id: 'first-drain-close-reinvalidates', rule: 'REV-NOTIFY', profiles: ['mainline'], port: 'first-drain', applies: (c, v) => c.op === 'event' && c.event === 'close' && v.evidence?.['model'] === 0 && v.evidence?.['port'] === 1 },
  // reports/FINDINGS.md C1: the seed's create unwind after a failed dma_buf_fd(): dma_buf_put() runs the release (priv and
  // phys_vec freed, the registration put), then err_dev_put, err_free_phys and err_free_priv do it all again (fixed by e98137f0a874).
  // The kernel's own C (--kernel-patch) shows it as AddressSanitizer's heap-use-after-free of priv in the create, and the
  // process dies there: the ioctl never returns (the harness's -EIO).
  { id: 'fd-unwind-double-free', rule: 'UAF-OBJ', profiles: ['v8', 'rfc', 'converter'], corrupts: true, applies: (c, v) => isFdFault(c) && ((v.evidence?.['useSite'] === 'vfio_pci_core_feature_dma_buf' && v.evidence?.['freeSite'] === 'vfio_pci_dma_buf_release') || (v.evidence?.['kind'] === 'c-heap-use-after-free' && inCreate(v.evidence?.['summary']))) },
  { id: 'fd-unwind-double-free', rule: 'PAL-INPUT', profiles: ['v8', 'rfc', 'converter'], corrupts: true, applies: (c, v) => isFdFault(c) && v.evidence?.['port'] === '-EIO' && inCreate(v.evidence?.['cSite']) },
  { id: 'fd-unwind-double-put', rule: 'UAF-REF', profiles: ['v8', 'rfc', 'converter'], corrupts: true, applies: (c, v) => isFdFault(c) && (v.evidence?.['site'] === 'vfio_pci_core_feature_dma_buf' || inCreate(v.evidence?.['cSite'])) },
  // The seed's close order (002 v8 10/11: vfio_pci_core_disable(), then vfio_pci_dma_buf_cleanup()): the BAR regions are
  // released, memory decode cleared and the function reset while importers still map the BARs; the cleanup's revoke
  // comes after. Fixed by "vfio/pci: Clean up DMABUFs before disabling function" (torvalds/linux d97708701434).
  { id: 'close-disables-before-cleanup', rule: 'REV-WINDOW', profiles: ['v8', 'rfc', 'converter'], applies: (c, v) => c.op === 'event' && c.event === 'close' && v.evidence?.['kind'] === 'mmio-gone' && v.evidence?.['site'] === 'vfio_pci_core_disable' },
  // reports/FINDINGS.md 1 (iova-link-offset-zero) met by a DMA importer's map of a multi-range dma-buf through an IOVA:
  // every range linked at offset 0. The consequence depends on the IOMMU (src/kernel/platform.ts): the overlapping link
  // itself (every flavour), and on a refusing IOMMU the map failing -EEXIST where the model says ok.
  { id: 'iova-link-offset-zero', rule: 'DMA-IOVA', profiles: ['v8', 'rfc', 'converter', 'mainline'], applies: (c, v) => c.op === 'map' && (v.evidence?.['kind'] === 'link-overlap' || (v.evidence?.['port'] === '-EEXIST' && v.evidence?.['model'] === 'ok')) },
  // reports/FINDINGS.md M2 (issue 6): the posted RFC 12/26 match_mapping asserts resv, which attach does not hold.
  { id: 'rfc12-match-mapping-unlocked', rule: 'LOCK-RESV', profiles: ['rfc', 'converter'], applies: (c, v) => c.op === 'attach' && String(v.evidence?.['site'] ?? '').includes('match_mapping') },
];

const CORRUPTING = new Set(LIFECYCLE_FINDINGS.filter((f) => f.corrupts).map((f) => f.id));
/** The run a lifecycle violation was seen in: its configuration (exporter, devices, machine, profile), the
 *  generated setup (none: the default one) and its kernel's names of the case's objects (Real.caseNames()). */
export interface LcRunOf {
  readonly cfg: LifecycleConfig;
  readonly setup?: LcSetup | undefined;
  readonly names: ReadonlyMap<string, string>;
  /** What each command returned (Real.results). */
  readonly results: readonly string[];
}

/** The findings whose predicate a violation at command `c` meets under `profile` (condition (a) of a match). */
function candidatesOf(profile: Profile, v: Violation, c: LcCmd | undefined): LifecycleFinding[] {
  return c === undefined ? [] : LIFECYCLE_FINDINGS.filter((f) => f.rule === v.rule && f.profiles.includes(profile) && f.applies(c, v));
}

/** The ids of the findings whose predicate a violation at command `c` meets under `profile`: what alone decided
 *  before the reference ran (condition (a); the tests show a user's different bug meeting one and staying new). */
export const predicatesMet = (profile: Profile, v: Violation, c: LcCmd | undefined): string[] => candidatesOf(profile, v, c).map((f) => f.id);

/** The behaviours a reference run shows at the steps `at` picks (src/rules/behaviour.ts). */
function shownAt(ref: ReferenceRun, at: (step: number | undefined) => boolean): Set<string> {
  return shownBy(ref.violations.filter((w) => at(w.step)), ref.names);
}

/** The first of `findings` whose faithful system, run on each of `sequences`, shows `v` (at the steps `at` picks). */
async function agreeing(run: LcRunOf, v: Violation, findings: readonly LifecycleFinding[], sequences: readonly (readonly LcCmd[])[], at: (step: number | undefined) => boolean): Promise<string | null> {
  const profile = run.cfg.profile ?? 'v8';
  const mine = behaviour(v, run.names);
  for (const f of findings) {
    const exporter = faithfulExporter(profile, f.port, run.cfg.exporter.deviceMemory === true);
    for (const cmds of sequences) {
      const ref = await referenceRun(run.cfg, exporter, cmds, run.setup);
      if (ownCreateDiffers(run, cmds, ref, v.step ?? 0) || shownAt(ref, at).has(mine)) return f.id;
    }
  }
  return null;
}

/** An exporter whose create is its own (not VFIO_DEVICE_FEATURE_DMA_BUF: `vfio` unset, the model takes its
 *  result as it comes) made a dma-buf, or refused one, where the faithful port did otherwise, before `step`: from
 *  there the reference is not on the same case (its dma-bufs are not the exporter's), and the finding's predicate
 *  decides alone, as before the reference runs. A VFIO exporter's create is the model's: a different result there
 *  is a violation of its own, and the reference keeps judging. */
function ownCreateDiffers(run: LcRunOf, cmds: readonly LcCmd[], ref: ReferenceRun, step: number): boolean {
  if (run.cfg.exporter.vfio === true) return false;
  return cmds.some((c, i) => i < step && c.op === 'create' && (run.results[i] === 'ok') !== (ref.results[i] === 'ok'));
}

/** A C entry that never returned: what the harness made of the call (its -EIO) is the crash's, and the crash is the
 *  unit's report at that step (a sanitizer's, kind `c-...`). It is explained by a finding that explains the crash. */
function byCrash(violations: readonly Violation[], by: readonly (string | null)[], i: number, findings: readonly LifecycleFinding[]): string | null {
  const v = violations[i]!;
  return findings.find((f) => violations.some((w, j) => j !== i && w.step === v.step && String(w.evidence?.['kind'] ?? '').startsWith('c-') && by[j] === f.id))?.id ?? null;
}

/** For each violation of a run of `cmds`, the documented finding explaining it (null: none): one whose predicate
 *  holds at the violation's command and whose faithful system, run on the same setup and machine with the same
 *  commands, shows the same violation at that step (what step i shows depends on the commands up to and including
 *  it, and on nothing after it but the deferred work the next command runs first). Only a violation some predicate
 *  meets costs a reference run (kept and driven on: lifecycle-reference.ts); `need` narrows that further (a search
 *  leaves the rules it no longer looks for unjudged: null). */
export async function explainAll(run: LcRunOf, violations: readonly Violation[], cmds: readonly LcCmd[], need: (v: Violation, f: LifecycleFinding) => boolean = () => true): Promise<(string | null)[]> {
  const profile = run.cfg.profile ?? 'v8';
  const by: (string | null)[] = violations.map(() => null);
  const crashed: [number, LifecycleFinding[]][] = [];
  for (const [i, v] of violations.entries()) {
    const findings = candidatesOf(profile, v, v.step === undefined ? undefined : cmds[v.step]).filter((f) => need(v, f));
    if (findings.length === 0) continue;
    if (afterCrash(v.evidence)) crashed.push([i, findings]);
    // The commands up to and including the violation's, and the next one (whose start runs the deferred work
    // of this one: what it shows is this step's) when the run has it.
    else by[i] = await agreeing(run, v, findings, [cmds.slice(0, v.step! + 2)], (s) => s === v.step);
  }
  for (const [i, findings] of crashed) by[i] = byCrash(violations, by, i, findings);
  return by;
}

export async function unexplainedLc(run: LcRunOf, violations: readonly Violation[], cmds: readonly LcCmd[]): Promise<Violation[]> {
  const by = await explainAll(run, violations, cmds);
  return violations.filter((_, i) => by[i] === null);
}

/** For each violation of a race of `a` and `b` after `prefix` (race.ts: the racers' step is prefix.length), the
 *  finding that explains it: its predicate holds at either racer, and the faithful system shows the same violation in
 *  a serial order of the two (prefix, a, b or prefix, b, a) at a racer's step. A violation of the prefix is judged as
 *  in a serial run of the prefix. */
export async function explainRace(run: LcRunOf, violations: readonly Violation[], prefix: readonly LcCmd[], a: LcCmd, b: LcCmd, sameRace?: SameRace): Promise<(string | null)[]> {
  const profile = run.cfg.profile ?? 'v8';
  const serial = await explainAll(run, violations.map((v) => (v.step !== undefined && v.step < prefix.length ? v : { ...v, step: undefined })), prefix);
  const orders = [[...prefix, a, b], [...prefix, b, a]];
  const racers = (s: number | undefined) => s !== undefined && s >= prefix.length;
  const by: (string | null)[] = [];
  for (const [i, v] of violations.entries()) {
    if (!racers(v.step)) {
      by.push(serial[i] ?? null);
      continue;
    }
    const findings = [...new Set([...candidatesOf(profile, v, a), ...candidatesOf(profile, v, b)])];
    by.push(findings.length ? ((await agreeing(run, v, findings, orders, racers)) ?? (sameRace ? await racedAlike(run, v, findings, sameRace, racers) : null)) : null);
  }
  return by;
}

/** The faithful system (an exporter, the profile's importers) run on the same race: the same prefix, racers, machine
 *  and schedule (race.ts raceReference). What only an interleaving shows (an attach between a revoke and its restore)
 *  is the design's own when the faithful system, given the same schedule, shows it too. */
export type SameRace = (exporter: ExporterPlugin) => Promise<ReferenceRun>;

/** The first of `findings` whose faithful system shows `v` on the same race, at a racer's step. */
async function racedAlike(run: LcRunOf, v: Violation, findings: readonly LifecycleFinding[], sameRace: SameRace, at: (step: number | undefined) => boolean): Promise<string | null> {
  const mine = behaviour(v, run.names);
  for (const f of findings) {
    if (shownAt(await sameRace(faithfulExporter(run.cfg.profile ?? 'v8', f.port, run.cfg.exporter.deviceMemory === true)), at).has(mine)) return f.id;
  }
  return null;
}

export class LifecycleFailure extends Error {
  /** `setup`: the run's generated configuration (lifecycle.ts lcInput writes both). */
  constructor(readonly violations: Violation[], readonly cmds: LcCmd[], readonly setup?: LcSetup) {
    super(violations.map((v) => `${v.rule}: ${v.message}`).join('\n'));
  }
}

/** What a run met besides its failure: the first commands that showed each documented finding. */
export type FindingLog = Map<string, { readonly cmds: LcCmd[]; readonly setup: LcSetup }>;

/** Which violations fail a run (the wanted rules), and where documented findings are recorded. */
export interface LcJudge {
  readonly want: (v: Violation) => boolean;
  readonly findings?: FindingLog;
}

/** What a search's run made of each violation when it first showed (LcCommand.run). */
const JUDGED = new WeakMap<Violation, string | null>();

class LcCommand implements fc.AsyncCommand<LcModel, Real, false> {
  /** The state check() resolved this command for, and the result: run() follows on the same state. */
  private lastState: LcState | undefined;
  private lastAware = false;
  private lastCmd: LcCmd | null = null;

  constructor(readonly g: GenCmd, readonly judge: LcJudge) {}

  private resolveOn(m: Readonly<LcModel>): LcCmd | null {
    if (this.lastState !== m.state || this.lastAware !== m.stateAware) {
      this.lastCmd = resolve(this.g, m.state, m.stateAware);
      this.lastState = m.state;
      this.lastAware = m.stateAware;
    }
    return this.lastCmd;
  }

  check(m: Readonly<LcModel>): boolean {
    return !m.diverged && this.resolveOn(m) !== null;
  }

  async run(m: LcModel, r: Real): Promise<void> {
    beat();
    const c = this.resolveOn(m)!;
    const { next, expect } = step(m.state, c, r.cfg.profile);
    const got = await r.run(c, m.steps);
    compareStep(r, c, m.state, next, expect, got);
    m.diverged ||= got.result !== expect.result;
    m.state = next;
    m.steps++;
    m.cmds.push(c);
    const all = r.k.log.violations;
    if (all.length === 0) return;
    // Only what the search uses is judged: the wanted rules, and the findings that end the judging; each violation
    // once, when it first shows (a wanted one no finding explains ends the run there).
    const fresh = all.filter((v) => !JUDGED.has(v));
    let names: ReadonlyMap<string, string> | undefined;
    const run: LcRunOf = { cfg: r.cfg, setup: r.setup, get names() { return (names ??= r.caseNames()); }, results: r.results };
    const judged = await explainAll(run, fresh, m.cmds, (v, f) => this.judge.want(v) || f.corrupts === true);
    fresh.forEach((v, i) => JUDGED.set(v, judged[i] ?? null));
    const by = all.map((v) => JUDGED.get(v) ?? null);
    // A documented finding that corrupts the kernel (a double free, a reference put twice) ends the judging:
    // what else this step and the later ones show follows from the corruption (a C run shows more of it
    // than a port: AddressSanitizer lets the C go on after the use after free).
    const corrupted = by.some((id, i) => id !== null && all[i]!.step === m.steps - 1 && CORRUPTING.has(id));
    m.diverged ||= corrupted;
    const bad = all.filter((v, i) => by[i] === null && this.judge.want(v) && !(corrupted && v.step === m.steps - 1));
    by.forEach((id, i) => {
      if (id !== null && this.judge.findings && !this.judge.findings.has(id) && this.judge.want(all[i]!)) this.judge.findings.set(id, { cmds: [...m.cmds], setup: r.setup });
    });
    if (bad.length) throw new LifecycleFailure(bad, m.cmds, r.setup);
  }

  toString(): string {
    return JSON.stringify(this.g);
  }
}

export function lcCommandsArb(maxCommands = 12, judge: LcJudge = { want: () => true }): fc.Arbitrary<Iterable<fc.AsyncCommand<LcModel, Real, false>>> {
  return fc.commands([genCmdArb.map((g) => new LcCommand(g, judge))], { maxCommands, size: 'medium' });
}

/** The property: no unexplained violation of a wanted rule in any generated lifecycle. `drawPlatform`: a
 *  configuration that pins no machine runs each lifecycle on one fast-check draws (after the setup and the
 *  commands, so they are what they would be without it); else on the configuration's (DEFAULT_PLATFORM). */
export function lifecycleProperty(cfg: LifecycleConfig, opts: { stateAware?: boolean; maxCommands?: number; judge?: LcJudge; drawPlatform?: boolean } = {}) {
  const drawn = opts.drawPlatform && !cfg.platform ? platformArb : fc.constant(undefined);
  return fc.asyncProperty(setupArb(cfg.profile), lcCommandsArb(opts.maxCommands, opts.judge), drawn, async (setup, cmds, platform) => {
    await fc.asyncModelRun(lifecycleSetup(cfg, opts.stateAware, platform ? { ...setup, platform } : setup), cmds);
  });
}

/** A fresh model and system for each run of generated commands (fc.asyncModelRun's setup). */
export function lifecycleSetup(cfg: LifecycleConfig, stateAware = true, setup?: LcSetup): () => { model: LcModel; real: Real } {
  return () => {
    const real = new Real(cfg, setup);
    return { model: { state: real.initialState(), stateAware, steps: 0, cmds: [], diverged: false }, real };
  };
}

/** The failing run of a property result, as resolved commands and violations. */
export function failureOf(out: { errorInstance?: unknown }): LifecycleFailure | undefined {
  return out.errorInstance instanceof LifecycleFailure ? out.errorInstance : undefined;
}

export { opName };
