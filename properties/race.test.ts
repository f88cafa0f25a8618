import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dmaImporter, iommufdImporter, vfioPci } from '../src/harness/bundled.ts';
import type { LifecycleConfig } from '../src/harness/lifecycle.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { RACE_SCENARIOS, observeReal, onMachine, race, raceMachineArb, racePairArb, raceReference, raceScheduler } from '../src/harness/race.ts';
import { EVENT_RACERS, mayOverlap, opRacers } from '../src/harness/race-pairs.ts';
import { createCmd, Real } from '../src/harness/lifecycle.ts';
import { explainRace } from '../src/harness/lifecycle-prop.ts';
import { guardExporter } from '../src/harness/guard.ts';
import { validateValue } from '../src/report/validate.ts';
import { step, type DeviceEvent, type LcCmd } from '../models/lifecycle.ts';
import { lifecycleTarget } from '../src/harness/suites/lifecycle.ts';
import { describePlatform, type Platform } from '../src/kernel/platform.ts';
import { lifecycleBugExporters, lifecycleBugImporters } from '../src/bugs/lifecycle.ts';
import { budget } from './budget.ts';
import { vfioExporter } from '../src/harness/bundled.ts';
import { dma_buf_move_notify } from '../src/impl/dma-buf-core.ts';
import { V8_PORT, type VfioDmabufPort } from '../src/impl/vfio/vfio_pci_core.ts';

const cfgOf = (exporter: ExporterPlugin): LifecycleConfig => ({ exporter, importers: { dma: dmaImporter, iommufd: iommufdImporter }, devices: 2, route: 'THRU_HOST_BRIDGE' });
const RACES = RACE_SCENARIOS.map((r) => [r.name, r.prefix, r.a, r.b] as const);

describe('races under fc.scheduler: the faithful port is linearizable and no checker fires', () => {
  for (const [name, prefix, a, b] of RACES) {
    it(name, async () => {
      await fc.assert(fc.asyncProperty(raceScheduler(), async (s) => {
        const out = await race(cfgOf(vfioPci), prefix, a, b, s);
        expect(out.real.k.log.violations.filter((v) => v.rule !== 'REV-IMPORTER')).toEqual([]);
        expect(out.linearizable).toBe(true);
      }), { numRuns: budget(60) });
    });
  }
});

describe('the scheduler explores both orders, not just the one the spawn order favours', () => {
  const outcomes = async (i: number) => {
    const [, prefix, a, b] = RACES[i]!;
    const seen = new Set<string>();
    await fc.assert(fc.asyncProperty(raceScheduler(), async (s) => void seen.add((await race(cfgOf(vfioPci), prefix, a, b, s)).results.join(','))), { numRuns: 60, seed: 3 });
    return [...seen].sort();
  };

  it('map racing revoke: the map lands before the revoke (ok) or after it (-ENODEV)', async () => {
    expect(await outcomes(2)).toEqual(['-ENODEV,ok', 'ok,ok']);
  });

  it('two hot resets of overlapping sets: either one wins the trylock, or they do not overlap in time', async () => {
    expect(await outcomes(4)).toEqual(['-EBUSY,ok', 'ok,-EBUSY', 'ok,ok']);
  });

  it('release racing move: the move may drop the last reference; the release runs as its task work, after memory_lock is released', async () => {
    const [, prefix, a, b] = RACES[1]!;
    let releasedByMove = 0;
    await fc.assert(fc.asyncProperty(raceScheduler(), async (s) => {
      const out = await race(cfgOf(vfioPci), prefix, a, b, s);
      if (out.real.bufs[0]!.file.lastPut === 'vfio_pci_dma_buf_move') releasedByMove++;
      expect(out.real.k.log.violations).toEqual([]);
      expect(out.real.bufs[0]!.file.released).toBe(true);
    }), { numRuns: 100, seed: 3 });
    expect(releasedByMove).toBeGreaterThan(0);
  });
});

describe('race-only seeded bugs', () => {
  it('bug:uaf-cleanup-ignores-dying is caught as UAF-DYING in the release/cleanup race', async () => {
    const bug = lifecycleBugExporters().find((p) => p.name === 'bug:uaf-cleanup-ignores-dying')!;
    const [, prefix, a, b] = RACES[0]!;
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      return !r.real.k.log.has('UAF-DYING');
    }), { numRuns: 500, seed: 1 });
    expect(out.failed).toBe(true);
  });

  it('bug:lock-release-resv-first deadlocks or inverts the lock order against cleanup', async () => {
    const bug = lifecycleBugExporters().find((p) => p.name === 'bug:lock-release-resv-first')!;
    const [, prefix, a, b] = RACES[0]!;
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      return !r.real.k.log.has('LOCK-ORDER');
    }), { numRuns: 500, seed: 1 });
    expect(out.failed).toBe(true);
  });
});

describe('every race outcome is judged against the serial orders of the model', () => {
  const [, prefix, a, b] = RACES[4]!;
  const bug = lifecycleBugExporters().find((p) => p.name === 'bug:rev-hot-reset-undo-keeps-revoked')!;

  it('a hot reset whose -EBUSY undo leaves its devices revoked is REV-WINDOW at the race step, as a serial wrong revoked state is', async () => {
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      return !r.real.k.log.has('REV-WINDOW');
    }), { numRuns: 50, seed: 1 });
    expect(out.failed).toBe(true);
    // Replayed at the same path: the violation is in the run's own log, at the race step.
    let seen: readonly { rule: string; step?: number; message: string }[] = [];
    await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      seen = r.real.k.log.violations;
      expect(r.linearizable).toBe(false);
      expect(r.results).toContain('-EBUSY');
    }), { seed: 1, path: out.counterexamplePath!, numRuns: 1 });
    const rev = seen.filter((v) => v.rule === 'REV-WINDOW');
    expect(rev.length).toBeGreaterThan(0);
    expect(rev.every((v) => v.step === prefix.length)).toBe(true);
    expect(rev[0]!.message).toMatch(/buf0 is revoked, the model says not revoked in every serial order/);
  });

  it('the faithful hot reset is linearizable in every schedule: no REV violation from the outcome', async () => {
    let busy = 0;
    await fc.assert(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(vfioPci), prefix, a, b, s);
      if (r.results.includes('-EBUSY')) busy++;
      expect(r.linearizable).toBe(true);
      expect(r.real.k.log.violations.filter((v) => v.rule.startsWith('REV-') && v.rule !== 'REV-IMPORTER')).toEqual([]);
    }), { numRuns: budget(100), seed: 2 });
    expect(busy).toBeGreaterThan(0);
  });
});

describe('UAF-DYING: a dying dma-buf touched by move through any path, not only get_file()', () => {
  // vfio_pci_dma_buf_move() that skips only released dma-bufs and takes no reference: it locks
  // the reservation and notifies the importers of a dma-buf whose release is pending.
  const moveTouchesDying: VfioDmabufPort = {
    ...V8_PORT,
    move: async (vdev, revoked) => {
      const site = 'vfio_pci_dma_buf_move';
      for (const privObj of [...vdev.dmabufs]) {
        const priv = vdev.k.heap.use(privObj, site);
        const dmabuf = priv.dmabuf!;
        if (dmabuf.file.released || priv.revoked === revoked) continue; // BUG: a dying file is not skipped
        await dmabuf.resv.lock(site);
        priv.revoked = revoked;
        dma_buf_move_notify(vdev.k, dmabuf);
        dmabuf.resv.unlock(site);
      }
    },
  };

  it('taking its reservation lock in the release/move race is UAF-DYING', async () => {
    const [, prefix, a, b] = RACES[1]!;
    const bug = vfioExporter('move-touches-dying', 'move without get_file_active', { port: moveTouchesDying });
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      return !r.real.k.log.violations.some((v) => v.rule === 'UAF-DYING' && /takes buf0\.resv/.test(v.message));
    }), { numRuns: 200, seed: 1 });
    expect(out.failed).toBe(true);
  });
});

describe('a race case draws its machine as a lifecycle run does, unless the run pins one (8c417cd)', () => {
  const bug = lifecycleBugExporters().find((p) => p.name === 'bug:rev-hot-reset-undo-keeps-revoked')!;
  const HOT_RESETS = 4;

  it('drawn per case (every machine turns up); a machine the configuration pins is the one it runs on', () => {
    const drawn = fc.sample(raceMachineArb, { seed: 5, numRuns: 60 });
    expect(new Set(drawn.map(describePlatform)).size).toBe(6);
    const pinned: Platform = { iommu: 'keep', dmaMap: 'iommu' };
    expect(onMachine({ ...cfgOf(vfioPci), platform: pinned }, { iommu: 'refuse', dmaMap: 'direct' }).platform).toEqual(pinned);
    expect(onMachine(cfgOf(vfioPci), { iommu: 'refuse', dmaMap: 'iommu' }).platform).toEqual({ iommu: 'refuse', dmaMap: 'iommu' });
    expect(onMachine(cfgOf(vfioPci), undefined)).toEqual(cfgOf(vfioPci));
  });

  it("a race case's input records the machine it ran on, the kernel ran on it, and replay runs the same schedule there", async () => {
    // The failing run of the race search's own property (schedule, then machine).
    let machines: Platform[] = [];
    const out = await fc.check(fc.asyncProperty(raceScheduler(), raceMachineArb, async (s, drawn) => {
      const r = await race(onMachine(cfgOf(bug), drawn), RACES[HOT_RESETS]![1], RACES[HOT_RESETS]![2], RACES[HOT_RESETS]![3], s);
      machines = [...machines, r.real.k.dma.platform];
      return !r.real.k.log.has('REV-WINDOW');
    }), { numRuns: 50, seed: 1 });
    expect(out.failed).toBe(true);
    const ranOn = machines.at(-1)!;
    const t = lifecycleTarget(bug.name, cfgOf(bug), 'exporter');
    const found = await t.replay({ race: HOT_RESETS, name: RACE_SCENARIOS[HOT_RESETS]!.name, seed: 1, path: out.counterexamplePath! });
    const input = found.counterexample.input as { platform?: Platform };
    expect(input.platform).toEqual(ranOn);
    expect(found.violations.some((v) => v.rule === 'REV-WINDOW')).toBe(true);
    // Its input as recorded (the machine pinned by the case) replays the same schedule on the same machine.
    const again = await t.replay(found.counterexample.input);
    expect(again.counterexample.input).toEqual(found.counterexample.input);
    expect(again.violations.map((v) => v.message)).toEqual(found.violations.map((v) => v.message));
    // The search's cases ran on more than one machine (the default machine alone before).
    expect(new Set(machines.map(describePlatform)).size).toBeGreaterThan(1);
  });

  it('a pinned machine is the race case\'s, recorded and replayed', async () => {
    const pinned: Platform = { iommu: 'refuse', dmaMap: 'iommu' };
    const t = lifecycleTarget(bug.name, { ...cfgOf(bug), platform: pinned }, 'exporter');
    const found = await t.replay({ race: HOT_RESETS, name: RACE_SCENARIOS[HOT_RESETS]!.name, seed: 1, path: '0' });
    expect((found.counterexample.input as { platform?: Platform }).platform).toEqual(pinned);
  });
});

describe('the race search draws its pairs from the lifecycle alphabet (race-pairs.ts), each after the state it needs', () => {
  const pairs = fc.sample(racePairArb, { seed: 7, numRuns: 3000 });
  const isEvent = (c: LcCmd, e: string) => c.op === 'event' && c.event === e;
  const versus = (x: (c: LcCmd) => boolean, y: (c: LcCmd) => boolean) => pairs.filter((p) => (x(p.a) && y(p.b)) || (x(p.b) && y(p.a)));
  const create = (c: LcCmd) => c.op === 'create';

  it('a create races every revoke and unrevoke path of the device (memory disable and enable, FLR, AF FLR, reset, D3, runtime PM, hot reset)', () => {
    for (const e of ['mem-off', 'mem-on', 'flr', 'af-flr', 'reset', 'd3-enter', 'd3-exit', 'pm-entry', 'pm-exit']) expect(versus(create, (c) => isEvent(c, e)).length, e).toBeGreaterThan(0);
    expect(versus(create, (c) => c.op === 'hot-reset').length).toBeGreaterThan(0);
    // An unrevoke path runs on the state it undoes: mem-on after mem-off, d3-exit after d3-enter, pm-exit after pm-entry.
    for (const [un, before] of [['mem-on', 'mem-off'], ['d3-exit', 'd3-enter'], ['pm-exit', 'pm-entry']] as const) {
      for (const p of versus(create, (c) => isEvent(c, un))) expect(p.prefix.some((c) => isEvent(c, before))).toBe(true);
    }
  });

  it('attach, map and release race the revoke paths and close, each after the dma-buf, attachment or mapping it needs', () => {
    for (const op of ['attach', 'map', 'unmap', 'detach', 'access', 'close-fd'] as const) {
      const raced = versus((c) => c.op === op, (c) => c.op === 'event');
      expect(raced.length, op).toBeGreaterThan(0);
      expect(versus((c) => c.op === op, (c) => isEvent(c, 'close')).length, `${op} against close`).toBeGreaterThan(0);
      for (const p of raced) {
        expect(p.prefix.some(create), op).toBe(true);
        if (op !== 'attach' && op !== 'close-fd') expect(p.prefix.some((c) => c.op === 'attach'), op).toBe(true);
      }
    }
  });

  it('never a pair no kernel runs at once: close beside a command on the device file, or two calls of the importer on its attachment', () => {
    const onDevice = (c: LcCmd) => c.op === 'create' || c.op === 'hot-reset' || c.op === 'event';
    expect(versus((c) => isEvent(c, 'close'), onDevice)).toEqual([]);
    const onAtt = (c: LcCmd) => ['map', 'unmap', 'detach', 'access'].includes(c.op);
    expect(versus(onAtt, onAtt)).toEqual([]);
    expect(mayOverlap(EVENT_RACERS.find((r) => isEvent(r.cmd, 'close'))!, opRacers('dma')[0]!)).toBe(false);
  });

  it("the reviewers' races are among them, as drawn from RACE_SCENARIOS", () => {
    for (const sc of RACE_SCENARIOS) expect(pairs).toContain(sc);
  });
});

describe('a create racing a revoke or unrevoke path: the outcome of one of the two serial orders (002 v8 10/11: revoked-at-birth and the list under memory_lock)', () => {
  const paths: [string, LcCmd[]][] = [
    ['mem-off', []], ['flr', []], ['af-flr', []], ['reset', []], ['d3-enter', []], ['pm-entry', []],
    ['mem-on', [{ op: 'event', dev: 0, event: 'mem-off' }]], ['d3-exit', [{ op: 'event', dev: 0, event: 'd3-enter' }]], ['pm-exit', [{ op: 'event', dev: 0, event: 'pm-entry' }]],
  ];
  for (const [event, prefix] of paths) {
    it(`the faithful port: create ∥ ${event} is linearizable in every schedule, and the new dma-buf is revoked iff memory ends off`, async () => {
      const b: LcCmd = { op: 'event', dev: 0, event: event as DeviceEvent };
      const off = ['mem-off', 'd3-enter', 'pm-entry'].includes(event);
      await fc.assert(fc.asyncProperty(raceScheduler(), async (s) => {
        const out = await race(cfgOf(vfioPci), prefix, createCmd(0, 1), b, s);
        expect(out.real.k.log.violations).toEqual([]);
        expect(out.linearizable).toBe(true);
        expect(observeReal(out.real).bufs[prefix.length]?.revoked ?? observeReal(out.real).bufs[0]!.revoked).toBe(off);
      }), { numRuns: budget(40), seed: 5 });
    });
  }

  it('the model: either order gives the same dma-buf, created then revoked or revoked at birth (and created then unrevoked or unrevoked at birth)', () => {
    const env = new Real(cfgOf(vfioPci)).initialState();
    const after = (cmds: LcCmd[]) => cmds.reduce((st, c) => step(st, c).next, env);
    const c = createCmd(0, 1);
    const off: LcCmd = { op: 'event', dev: 0, event: 'mem-off' };
    const on: LcCmd = { op: 'event', dev: 0, event: 'mem-on' };
    expect(after([c, off]).bufs[0]!.revoked).toBe(true);
    expect(after([off, c]).bufs[0]!.revoked).toBe(true);
    expect(after([off, c, on]).bufs[0]!.revoked).toBe(false);
    expect(after([off, on, c]).bufs[0]!.revoked).toBe(false);
  });
});

describe('a create that decides revoked-at-birth apart from its list_add (REV-INIT, race only)', () => {
  it("test/plugins/acme-vfio-bug-race.ts (reads memory-enabled before memory_lock): create ∥ mem-off leaves a live, unrevoked dma-buf on a device whose memory is off", async () => {
    const { default: user } = await import('../test/plugins/acme-vfio-bug-race.ts');
    let seen: readonly { rule: string; message: string }[] = [];
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(user), [], createCmd(0, 1), { op: 'event', dev: 0, event: 'mem-off' }, s);
      seen = r.real.k.log.violations;
      return seen.length === 0;
    }), { numRuns: 200, seed: 1 });
    expect(out.failed).toBe(true);
    expect(seen.map((v) => v.rule)).toEqual(['REV-INIT']);
    expect(seen[0]!.message).toMatch(/buf0 is not revoked, the model says revoked in every serial order/);
  });

  it('the user fixture and bug:rev-init-list-add-unlocked are new REV-INIT at the default budget (race search: create ∥ a revoke or unrevoke path)', async () => {
    const { default: user } = await import('../test/plugins/acme-vfio-bug-race.ts');
    const bug = lifecycleBugExporters().find((p) => p.name === 'bug:rev-init-list-add-unlocked')!;
    for (const p of [user, bug]) {
      const found = await lifecycleTarget(p.name, cfgOf(guardExporter(p)), 'exporter').search(42, 400, new Set());
      const f = found.failures[0]!;
      expect(f.violations.filter((v, i) => f.explainedBy[i] === null).map((v) => v.rule), p.name).toContain('REV-INIT');
      const input = f.counterexample.input as { race?: unknown; name?: string };
      expect(input.race, p.name).toBeDefined();
      expect(input.name, p.name).toMatch(/^create\(dev0, .*\) racing (mem-off|mem-on|d3-enter|d3-exit|pm-entry|pm-exit)\(dev0\)$/);
      // A valid corpus entry (schemas/corpus-entry.schema.json: race is an index or the pair's commands).
      expect(validateValue('corpus-entry', { implementation: p.name, rule: 'REV-INIT', input: { part: 'lifecycle', input: f.counterexample.input } }).ok, p.name).toBe(true);
      // The recorded case replays to the same violations (its pair, its run's schedule, its machine).
      const again = await lifecycleTarget(p.name, cfgOf(guardExporter(p)), 'exporter').replay(f.counterexample.input);
      expect(again.violations.map((v) => v.message)).toEqual(f.violations.map((v) => v.message));
    }
  });

  it('the faithful port passes the same search', async () => {
    const found = await lifecycleTarget('vfio-pci', cfgOf(guardExporter(vfioPci)), 'exporter').search(42, 400, new Set());
    expect(found.failures).toEqual([]);
  });
});

describe("a race only an interleaving shows is the design's own when the faithful port shows it on the same schedule", () => {
  it('iommufd attaching while an FLR holds its dma-buf revoked gets the un-revoke move_notify alone: L2 (unrevoke-notifies-iommufd), not new', async () => {
    const prefix = [createCmd(0, 1)];
    const a: LcCmd = { op: 'attach', buf: 0, importer: 'iommufd', p2p: true };
    const b: LcCmd = { op: 'event', dev: 0, event: 'flr' };
    let met = 0;
    await fc.assert(fc.asyncProperty(raceScheduler(), async (s) => {
      const out = await race(cfgOf(vfioPci), prefix, a, b, s);
      const vs = out.real.k.log.violations;
      const by = await explainRace({ cfg: out.real.cfg, names: out.real.caseNames(), results: out.real.results }, vs, prefix, a, b, (e) => raceReference(out.real.cfg, e, prefix, a, b, s));
      const lone = vs.filter((v) => v.rule === 'REV-IMPORTER' && v.evidence?.['afterRevoke'] === false);
      if (lone.length) met++;
      expect(by.filter((x) => x === null)).toEqual([]);
      expect(out.linearizable).toBe(true);
    }), { numRuns: 300, seed: 1 });
    expect(met).toBeGreaterThan(0);
  });

  it('a zap that notifies without revoking (bug:rev-importer-move-not-revoke) stays new in the same race', async () => {
    const bug = lifecycleBugExporters().find((p) => p.name === 'bug:rev-importer-move-not-revoke')!;
    const prefix = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'iommufd', p2p: true } as LcCmd];
    const a: LcCmd = { op: 'map', att: 0 };
    const b: LcCmd = { op: 'event', dev: 0, event: 'flr' };
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      const vs = r.real.k.log.violations;
      const by = await explainRace({ cfg: r.real.cfg, names: r.real.caseNames(), results: r.real.results }, vs, prefix, a, b, (e) => raceReference(r.real.cfg, e, prefix, a, b, s));
      return !vs.some((v, i) => v.rule === 'REV-IMPORTER' && by[i] === null);
    }), { numRuns: 100, seed: 1 });
    expect(out.failed).toBe(true);
  });
});
