// The design's faithful system of each profile, as the lifecycle's documented findings (reports/FINDINGS.md)
// document it: the bundled VFIO exporter of the profile (or the bundled port a finding names, D1's first
// drain) with the profile's bundled importers. A lifecycle violation that a finding's predicate matches is
// known only when this system, run on the same setup, machine and command prefix, shows the same violation
// at the same step (lifecycle-prop.ts): so a user's different bug that happens to fit a predicate stays new.
// Each reference system is kept by everything it depends on and driven on as the case grows: a command sequence
// runs at most once per process.
import { step, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import { spec, type Profile } from '../../models/profiles.ts';
import type { LcSetup } from '../gen/lifecycle.ts';
import { matchImporters } from '../impl/match_importers.ts';
import { MAINLINE_FIRST_DRAIN_PORT, MAINLINE_PORT } from '../impl/vfio/vfio_pci_dmabuf_mainline.ts';
import type { Violation } from '../rules/violation.ts';
import { dmaImporter, dmaImporterLate, iommufdImporter, iommufdMainline, MATCH_VARIANTS, matchExporter, nvgrace, vfioExporter, vfioPci, vfioPciFirstDrain, vfioPciMainline } from './bundled.ts';
import { compareStep, Real, type LifecycleConfig } from './lifecycle.ts';
import type { ExporterPlugin, ImporterPlugin } from './plugin.ts';
import { toInput } from './suite.ts';

/** A bundled port a finding documents when it is not its profile's faithful exporter: `first-drain` is vfio-pci as
 *  first merged with the revoke drain (1a8a5227f229, FINDINGS D1), before the cleanup fix. */
export type DesignPort = 'first-drain';

const V8_IMPORTERS = { dma: dmaImporter, iommufd: iommufdImporter };
/** Mainline: iommufd pins its attachment (a42ec590c0b0); the DMA importer finishes its invalidation later
 *  (the unmap as deferred work), which the 7.0 contract allows and the VFIO revoke waits for (1a8a5227f229). */
const MAINLINE_IMPORTERS = { dma: dmaImporterLate, iommufd: iommufdMainline };

/** The importers a profile attaches with by default: v8's (mainline's when iommufd pins), or those that attach by match-making. */
export function faithfulImporters(p: Profile): { dma: ImporterPlugin; iommufd: ImporterPlugin } {
  return spec(p).mappingTypes ? matchImporters(p) : spec(p).iommufdPins ? MAINLINE_IMPORTERS : V8_IMPORTERS;
}

const built = new Map<string, ExporterPlugin>();

/** The design's faithful VFIO exporter under `profile` (the bundled port itself where there is one), for the kind of
 *  device the exporter under test declares: one that exports device memory (nvgrace-gpu, 002 v8 11/11) is compared
 *  with the port on such a device, its regions 2 and 4 that memory. */
export function faithfulExporter(profile: Profile, port: DesignPort | undefined, deviceMemory: boolean): ExporterPlugin {
  const key = `${profile}|${port ?? ''}|${deviceMemory}`;
  const had = built.get(key);
  if (had) return had;
  const made = ((): ExporterPlugin => {
    if (profile === 'rfc' || profile === 'converter') {
      return deviceMemory ? vfioExporter(`vfio-pci:${profile}`, 'nvgrace-gpu with mapping types', { match: { variant: MATCH_VARIANTS[profile], profile }, nvgrace: true }) : matchExporter(profile);
    }
    if (profile === 'mainline') {
      const [plugin, vport] = port === 'first-drain' ? [vfioPciFirstDrain, MAINLINE_FIRST_DRAIN_PORT] : [vfioPciMainline, MAINLINE_PORT];
      return deviceMemory ? vfioExporter(plugin.name, `${plugin.description}, nvgrace-gpu`, { port: vport, nvgrace: true, profiles: ['mainline'] }) : plugin;
    }
    return deviceMemory ? nvgrace : vfioPci;
  })();
  built.set(key, made);
  return made;
}

/** What the faithful system showed on a command sequence: its violations (at every step; the caller picks its
 *  step), and its kernel's names of the case's objects. */
export interface ReferenceRun {
  readonly violations: readonly Violation[];
  readonly names: ReadonlyMap<string, string>;
  /** What each command returned. */
  readonly results: readonly string[];
}

/** A reference that could not run (it threw, or its schedule cannot be copied): it shows nothing. */
export const NOTHING_SHOWN: ReferenceRun = { violations: [], names: new Map(), results: [] };

/** The faithful system `exporter`, with the profile's importers, where a run of `cfg` ran: its devices, route,
 *  checkers, machine and profile. */
export function referenceConfig(cfg: LifecycleConfig, exporter: ExporterPlugin): LifecycleConfig {
  const profile = cfg.profile ?? 'v8';
  return { exporter, importers: faithfulImporters(profile), devices: cfg.devices, route: cfg.route, profile, ...(cfg.checkers === undefined ? {} : { checkers: cfg.checkers }), ...(cfg.platform ? { platform: cfg.platform } : {}) };
}

/** One reference system, driven a command at a time: the commands it ran (each as its JSON), its kernel and model. */
interface Stepper {
  readonly ran: string[];
  readonly real: Real;
  model: LcState;
  /** Its kernel's names of the case's objects after the commands it ran (null: to be taken again). */
  names: ReadonlyMap<string, string> | null;
  /** The commands run so far; the next advance waits for it (one system, one command at a time). */
  busy: Promise<void>;
  dead: boolean;
}

/** Systems kept per configuration and setup, and configurations kept: the oldest go first past them. A search's run
 *  is judged as it goes (one system, driven on); what comes back later is its recorded case and that case's shrink,
 *  on the same setup: a few setups cover it, and each system holds a whole simulated kernel. */
const PER_SETUP = 4;
const SETUPS = 128;
const steppers = new Map<string, Stepper[]>();
const cmdKeys = new WeakMap<LcCmd, string>();
let steps = 0;

/** How many commands the reference systems of this process ran: the cost of the judgement (tests, bench). */
export const referenceSteps = (): number => steps;

const keyOf = (c: LcCmd): string => {
  let k = cmdKeys.get(c);
  if (k === undefined) cmdKeys.set(c, (k = JSON.stringify(toInput(c))));
  return k;
};
const setupKeys = new WeakMap<LcSetup, string>();
const setupKey = (setup: LcSetup | undefined): string => {
  if (!setup) return 'null';
  let k = setupKeys.get(setup);
  if (k === undefined) setupKeys.set(setup, (k = JSON.stringify(toInput(setup))));
  return k;
};
const startsWith = (long: readonly string[], short: readonly string[]) => short.every((k, i) => long[i] === k);

/** The faithful system `exporter` (with the profile's importers) on the configuration `cfg` runs (its devices, route,
 *  machine, checkers) and the case's setup, after the commands `cmds`: what it showed, as a plain lifecycle run of
 *  them shows it. A violation at step i of a run of `cmds` is compared with the reference's at step i: what a command
 *  does at step i (and the deferred work the next command runs first) does not depend on the commands after it, so
 *  one system serves every prefix of the sequence it ran. Each system is kept and driven on when a longer sequence of
 *  the same case is asked for (a search judges its run after every command): a sequence runs at most once. A reference
 *  that throws shows nothing (and is dropped). */
export async function referenceRun(cfg: LifecycleConfig, exporter: ExporterPlugin, cmds: readonly LcCmd[], setup: LcSetup | undefined): Promise<ReferenceRun> {
  const profile = cfg.profile ?? 'v8';
  const base = `${JSON.stringify({ e: exporter.name, d: exporter.deviceMemory === true, profile, devices: cfg.devices, route: cfg.route, checkers: cfg.checkers ?? true, platform: cfg.platform ?? null })}|${setupKey(setup)}`;
  const keys = cmds.map(keyOf);
  let list = steppers.get(base);
  if (list) steppers.delete(base); // most recently used last
  list = (list ?? []).filter((x) => !x.dead);
  steppers.set(base, list);
  if (steppers.size > SETUPS) steppers.delete(steppers.keys().next().value!);
  let st = list.find((x) => (x.ran.length >= keys.length ? startsWith(x.ran, keys) : startsWith(keys, x.ran)));
  if (!st) {
    try {
      const real = new Real(referenceConfig(cfg, exporter), setup);
      st = { ran: [], real, model: real.initialState(), names: null, busy: Promise.resolve(), dead: false };
    } catch {
      return NOTHING_SHOWN;
    }
    list.push(st);
    if (list.length > PER_SETUP) list.shift();
  }
  const s = st;
  s.busy = s.busy.then(async () => {
    for (let i = s.ran.length; i < keys.length && !s.dead; i++) {
      try {
        const c = cmds[i]!;
        const { next, expect } = step(s.model, c, profile);
        compareStep(s.real, c, s.model, next, expect, await s.real.run(c, i));
        s.model = next;
        s.names = null;
        s.ran.push(keys[i]!);
        steps++;
      } catch {
        s.dead = true;
      }
    }
  });
  await s.busy;
  if (s.dead) return NOTHING_SHOWN;
  s.names ??= s.real.caseNames();
  return { violations: s.real.k.log.violations, names: s.names, results: s.real.results };
}
