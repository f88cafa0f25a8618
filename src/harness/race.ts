// Races between two lifecycle commands under fast-check's scheduler: after a
// sequential prefix, both run as separate tasks that interleave at every
// lock acquisition and file-refcount point. The outcome must equal one of
// the two serial orders of the model (linearizability), with no checker
// firing and no task left blocked (a deadlock).
import fc from 'fast-check';
import { step, zapHalves, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import type { Platform } from '../kernel/platform.ts';
import type { RuleId } from '../rules/registry.ts';
import { compareStep, createCmd, opName, Real, resultRule, type LifecycleConfig } from './lifecycle.ts';
import { NOTHING_SHOWN, referenceConfig, type ReferenceRun } from './lifecycle-reference.ts';
import { thrownReport } from '../kernel/callsite.ts';
import type { ExporterPlugin } from './plugin.ts';
import { generatedPairArb, type RacePair } from './race-pairs.ts';
import { platformArb } from './suite.ts';

/** fast-check's scheduler, letting a released task run on to its next
 *  preemption point before the next choice: otherwise a task several awaits
 *  away from its next lock is never chosen ahead of one that is scheduled. */
export function raceScheduler(): fc.Arbitrary<fc.Scheduler> {
  return fc.scheduler({ act: async (f) => {
    await f();
    await new Promise((r) => setImmediate(r));
  } });
}

/** The machine a race case draws, after its schedule (the second argument of its property), as a generated
 *  lifecycle run draws its own (8c417cd). It is drawn whether or not the configuration pins one (--iommu/--dma-map,
 *  or the machine a recorded case names): the draw moves the random stream the schedule reads, so a case drawn
 *  on one machine replays its schedule only when the replay draws too; onMachine() then takes the pinned one. */
export const raceMachineArb: fc.Arbitrary<Platform> = platformArb;

/** The configuration of a race case: on the machine the configuration pins, else on the one the case drew. */
export function onMachine(cfg: LifecycleConfig, drawn: Platform | undefined): LifecycleConfig {
  return cfg.platform || !drawn ? cfg : { ...cfg, platform: drawn };
}

export interface Observed {
  readonly bufs: readonly { revoked: boolean; released: boolean; cleaned?: boolean }[];
  readonly mapped: readonly boolean[];
}

export function observeReal(real: Real): Observed {
  return {
    bufs: real.bufs.map((b) => ({ released: b!.file.released, revoked: b!.file.released ? true : real.devices[real.devOf(b!)]!.isRevoked(b!) })),
    mapped: real.atts.map((a, i) => !real.detached.has(i) && a.handle?.mapped() === true),
  };
}

export function observeModel(s: LcState): Observed {
  return { bufs: s.bufs.map((b) => ({ released: b.released, revoked: b.released ? true : b.revoked, cleaned: b.cleaned })), mapped: s.atts.map((a) => a.mapped) };
}

export interface RaceOutcome {
  readonly real: Real;
  readonly results: readonly [string, string];
  readonly linearizable: boolean;
}

/** The commands that take no memory_lock: attach, map, unmap, detach and access (the reservation lock, 002 v8 10/11;
 *  a dma-buf's release takes memory_lock to leave the device's list, so close-fd is not one). */
const LOCK_FREE: ReadonlySet<LcCmd['op']> = new Set(['attach', 'map', 'unmap', 'detach', 'access']);

/** Run `prefix` serially, then `a` and `b` concurrently under the scheduler. */
export async function race(cfg: LifecycleConfig, prefix: readonly LcCmd[], a: LcCmd, b: LcCmd, s: fc.Scheduler): Promise<RaceOutcome> {
  const real = new Real(cfg);
  let model = real.initialState();
  for (const [i, c] of prefix.entries()) {
    const { next, expect } = step(model, c, cfg.profile);
    compareStep(real, c, model, next, expect, await real.run(c, i));
    model = next;
  }
  // The prefix's deferred work (a late unmap) runs before the race, as it would before the next command.
  await real.k.flushWork();
  real.k.setScheduler(s);
  real.k.log.step = prefix.length;
  const settled = [false, false];
  const task = (name: string, c: LcCmd, i: number) =>
    real.k.spawn(name, async () => {
      // Which task starts first is the scheduler's choice too: without this
      // point, A always reached its first lock (or trylock) before B began.
      await real.k.preempt(`start ${name}: ${opName(c, cfg.importers)}`);
      let r: string;
      try {
        r = await real.exec(c);
        await real.k.runTaskWork();
      } catch (e) {
        // Past the guarded hooks (a dma-buf op the core calls): a finding, as in the serial suite.
        const t = thrownReport('the implementation threw outside a plugin hook', e);
        real.k.report('PLUGIN-THROW', t.message, { task: name, command: opName(c, cfg.importers), ...t.evidence });
        r = 'threw';
      }
      real.k.lockdep.checkBalanced(name, opName(c, cfg.importers));
      settled[i] = true;
      return r;
    });
  const pa = task('A', a, 0);
  const pb = task('B', b, 1);
  // Woken lock waiters continue through plain microtasks: let them run, then
  // drain the scheduler again, until both tasks returned or nothing moves.
  for (let round = 0; round < 8 && !(settled[0] && settled[1]); round++) {
    await s.waitAll();
    await new Promise((r) => setImmediate(r));
  }
  real.k.setScheduler(undefined);
  if (!settled[0] || !settled[1]) {
    real.k.report('LOCK-ORDER', `deadlock: ${[a, b].filter((_, i) => !settled[i]).map((c) => opName(c, cfg.importers)).join(' and ')} never returned`, { a: opName(a, cfg.importers), b: opName(b, cfg.importers) });
    return { real, results: ['blocked', 'blocked'], linearizable: false };
  }
  const results: [string, string] = [await pa, await pb];
  // A racer that threw is the finding (PLUGIN-THROW above); its outcome has no serial order to compare with.
  if (results.includes('threw')) return { real, results, linearizable: false };
  // By position, not by command: the two racers may be one command (two maps of one attachment, two PM entries).
  const orders = [[a, b], [b, a]].map(([x, y], i) => {
    const first = step(model, x!, cfg.profile);
    const second = step(first.next, y!, cfg.profile);
    return { obs: observeModel(second.next), results: i === 0 ? [first.expect.result, second.expect.result] : [second.expect.result, first.expect.result] };
  });
  // A racer that takes no memory_lock may take effect inside a device path that revokes and restores under it
  // (an FLR, a reset, D3 entry, a hot reset: models/lifecycle.ts zapHalves), while the dma-bufs are revoked.
  ([[a, b, 0], [b, a, 1]] as const).forEach(([x, y, xi]) => {
    const halves = LOCK_FREE.has(y.op) ? zapHalves(model, x, cfg.profile) : null;
    if (!halves) return;
    const mid = step(halves.revoked, y, cfg.profile);
    const rx = step(model, x, cfg.profile).expect.result;
    orders.push({ obs: observeModel(halves.restore(mid.next)), results: xi === 0 ? [rx, mid.expect.result] : [mid.expect.result, rx] });
  });
  // A hot reset that lost the race for a memory_lock returns -EBUSY after its
  // err_undo: on the devices it had locked it acted like an FLR (revoke,
  // restore). The outcome is then the other command with such a prefix.
  const busy = (c: LcCmd, r: string) => c.op === 'hot-reset' && r === '-EBUSY';
  if (busy(a, results[0]) !== busy(b, results[1])) {
    const [loser, winner, wi] = busy(a, results[0]) ? [a, b, 1] : [b, a, 0];
    const devs = loser.op === 'hot-reset' ? loser.devs : [];
    for (let n = 0; n <= devs.length; n++) {
      const undo: LcCmd[] = devs.slice(0, n).map((dev) => ({ op: 'event', dev, event: 'flr' }));
      for (const seq of [[...undo, winner], [winner, ...undo]]) {
        let st = model;
        let res = '';
        for (const c of seq) {
          const r = step(st, c, cfg.profile);
          st = r.next;
          if (c === winner) res = r.expect.result;
        }
        orders.push({ obs: observeModel(st), results: wi === 0 ? [res, '-EBUSY'] : ['-EBUSY', res] });
      }
    }
  }
  const seen = observeReal(real);
  const diffs = orders.map((o) => differences(model, [a, b], results, o, seen, cfg));
  const linearizable = diffs.some((d) => d.length === 0);
  // Not linearizable: report what differs from the closest serial order (results first),
  // each under the rule compareStep gives the same mismatch of a serial step.
  if (!linearizable) {
    const closest = diffs.reduce((x, y) => (y.length < x.length ? y : x));
    for (const d of closest) real.k.report(d.rule, `${opName(a, cfg.importers)} ∥ ${opName(b, cfg.importers)}: ${d.message} in every serial order`, { ...d.evidence, results: [...results] });
  }
  return { real, results, linearizable };
}

/** The faithful system `exporter`, with the profile's importers, on the same race as a run of `cfg` (its devices,
 *  route, machine, profile): the same prefix and racers under a copy of the schedule `s` (fast-check's clone of a
 *  scheduler makes the same choices from the start). What it showed, for lifecycle-prop.ts explainRace. */
export async function raceReference(cfg: LifecycleConfig, exporter: ExporterPlugin, prefix: readonly LcCmd[], a: LcCmd, b: LcCmd, s: fc.Scheduler): Promise<ReferenceRun> {
  if (!fc.hasCloneMethod(s)) return NOTHING_SHOWN;
  try {
    const out = await race(referenceConfig(cfg, exporter), prefix, a, b, s[fc.cloneMethod]());
    return { violations: out.real.k.log.violations, names: out.real.caseNames(), results: out.real.results };
  } catch {
    return NOTHING_SHOWN;
  }
}

interface Order {
  readonly obs: Observed;
  readonly results: readonly string[];
}

interface Difference {
  readonly rule: RuleId;
  readonly message: string;
  readonly evidence: Record<string, unknown>;
}

/** How the observed outcome differs from one serial order (results, then state). */
function differences(before: LcState, cmds: readonly [LcCmd, LcCmd], results: readonly string[], o: Order, seen: Observed, cfg: Pick<LifecycleConfig, 'profile' | 'importers'>): Difference[] {
  const out: Difference[] = [];
  cmds.forEach((c, i) => {
    if (results[i] !== o.results[i]) out.push({ rule: resultRule(c, before, cfg.profile), message: `${opName(c, cfg.importers)} returned ${results[i]}, the model says ${o.results[i]}`, evidence: { command: opName(c, cfg.importers), port: results[i], model: o.results[i] } });
  });
  seen.bufs.forEach((b, i) => {
    const m = o.obs.bufs[i];
    if (!m) return;
    if (b.released !== m.released) out.push({ rule: 'UAF-REF', message: `buf${i} ${b.released ? 'was released' : 'is still alive'}, the model says ${m.released ? 'released' : 'alive'}`, evidence: { buf: i } });
    // A dma-buf a racing create made is judged as compareStep judges a create's: revoked iff memory was off when it was exported (REV-INIT).
    else if (b.revoked !== m.revoked) out.push({ rule: m.cleaned ? 'REV-CLEANUP' : i >= before.bufs.length ? 'REV-INIT' : 'REV-WINDOW', message: `buf${i} is ${b.revoked ? 'revoked' : 'not revoked'}, the model says ${m.revoked ? 'revoked' : 'not revoked'}`, evidence: { buf: i } });
  });
  seen.mapped.forEach((mapped, i) => {
    if (mapped !== (o.obs.mapped[i] ?? false)) out.push({ rule: 'REV-WINDOW', message: `att${i} ${mapped ? 'holds a mapping' : 'holds no mapping'}, the model says ${mapped ? 'unmapped' : 'mapped'}`, evidence: { att: i } });
  });
  return out;
}

const CREATE: LcCmd = createCmd(0, 1);
const ATTACH_MAP: LcCmd[] = [{ op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }];

/** The races reviewers worried about in 002 and 003. */
export const RACE_SCENARIOS: readonly RacePair[] = [
  // "Either this or vfio_pci_dma_buf_cleanup() will remove from the list. The refcount prevents both."
  { name: 'dma-buf release racing device cleanup', prefix: [CREATE], a: { op: 'close-fd', buf: 0 }, b: { op: 'event', dev: 0, event: 'close' } },
  { name: 'dma-buf release racing move', prefix: [CREATE], a: { op: 'close-fd', buf: 0 }, b: { op: 'event', dev: 0, event: 'mem-off' } },
  { name: 'map racing revoke', prefix: [CREATE, { op: 'attach', buf: 0, importer: 'dma', p2p: true }], a: { op: 'map', att: 0 }, b: { op: 'event', dev: 0, event: 'mem-off' } },
  { name: 'importer detach racing FLR', prefix: [CREATE, ...ATTACH_MAP], a: { op: 'detach', att: 0 }, b: { op: 'event', dev: 0, event: 'flr' } },
  { name: 'two hot resets of overlapping device sets', prefix: [CREATE, createCmd(1, 1), ...ATTACH_MAP], a: { op: 'hot-reset', devs: [0, 1] }, b: { op: 'hot-reset', devs: [1] } },
];

/** The race search's cases: a reviewers' race one time in five, else a generated pair (race-pairs.ts). A pair does
 *  not shrink: a smaller pair is another race, not a smaller case of this one (the machine still shrinks). */
export const racePairArb: fc.Arbitrary<RacePair> = fc.noShrink(fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...RACE_SCENARIOS) }, { weight: 4, arbitrary: generatedPairArb }));
