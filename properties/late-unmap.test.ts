// Issue 13 item 3.4: an importer that finishes its invalidation later (the unmap after
// invalidate_mappings runs as deferred work, Kernel.queueWork). The mainline VFIO revoke
// waits for every unmap (wait_for_completion, torvalds/linux 1a8a5227f229): serially and
// under the race scheduler it is clean and never a false deadlock; the same port with the
// wait removed (bug:rev-drain-no-wait) changes the device while the importer still maps it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { LcCmd } from '../models/lifecycle.ts';
import { createCmd, runLifecycle } from '../src/harness/lifecycle.ts';
import { lifecycleConfig, lifecycleSuite } from '../src/harness/suites/lifecycle.ts';
import { dmaImporter, dmaImporterLate, iommufdMainline, vfioPciMainline } from '../src/harness/bundled.ts';
import { race, RACE_SCENARIOS, raceScheduler } from '../src/harness/race.ts';
import { revDrainNoWait } from '../src/bugs/lifecycle-mainline.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import { Completion, Kref } from '../src/kernel/completion.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { budget } from './budget.ts';

const cfgOf = (e: ExporterPlugin) => lifecycleConfig(e, { dma: dmaImporterLate, iommufd: iommufdMainline }, 'mainline');
const ev = (event: 'mem-off' | 'mem-on' | 'flr' | 'close' | 'reset'): LcCmd => ({ op: 'event', dev: 0, event });
const MAPPED: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }];

describe('deferred work and the completion that waits for it', () => {
  it('wait_for_completion sleeps while work is pending (the worker completes it), and hangs only when none is', async () => {
    const k = new Kernel();
    const kref = new Kref(k, 'kref');
    const comp = new Completion(k, 'comp', kref);
    kref.get('map');
    k.queueWork('late unmap', async () => kref.put('unmap', () => comp.complete()));
    kref.put('revoke', () => comp.complete());
    expect(k.workPending).toBe(1);
    await comp.wait('revoke');
    expect(k.workPending).toBe(0);
    expect(k.log.violations).toEqual([]);
    await comp.wait('again');
    expect(k.log.violations.map((v) => [v.rule, v.evidence?.['hang']])).toEqual([['REV-DRAIN', true]]);
  });

  it('queued work runs before the next operation (flushWork)', async () => {
    const k = new Kernel();
    const ran: string[] = [];
    k.queueWork('a', async () => void ran.push('a'));
    k.queueWork('b', async () => void ran.push('b'));
    await k.flushWork();
    expect(ran).toEqual(['a', 'b']);
    expect(k.workPending).toBe(0);
  });
});

describe('serially: the mainline revoke waits for the late unmap', () => {
  for (const e of ['mem-off', 'flr', 'reset', 'close'] as const) {
    it(`${e}: clean, and the importer holds no mapping when the command returns`, async () => {
      const r = await runLifecycle(cfgOf(vfioPciMainline), [...MAPPED, ev(e), { op: 'detach', att: 0 }, { op: 'close-fd', buf: 0 }], { keepGoing: true });
      expect(r.violations).toEqual([]);
    });
  }

  it('bug:rev-drain-no-wait: the revoke returns with the importer still mapping the MMIO: REV-WINDOW at that step', async () => {
    const r = await runLifecycle(cfgOf(revDrainNoWait), [...MAPPED, ev('mem-off')]);
    const window = r.violations.filter((x) => x.rule === 'REV-WINDOW');
    expect(window.map((v) => v.step)).toEqual([3, 3]);
    // At the device change (the simulated device sees the live table), and after the step (the model's view).
    expect(window[0]!.message).toBe('dev0: memory decode off in vfio_basic_config_write while att0 (dma-client) of buf0 still maps its MMIO');
    expect(window[1]!.message).toBe('att0 (dma) still holds a usable mapping of revoked or disabled MMIO');
  });

  it('the immediate importer does not tell the two apart (why the mainline profile attaches the late one)', async () => {
    const cfg = lifecycleConfig(revDrainNoWait, { dma: dmaImporter, iommufd: iommufdMainline }, 'mainline');
    expect((await runLifecycle(cfg, [...MAPPED, ev('mem-off')])).violations).toEqual([]);
  });
});

describe('under the race scheduler: the deferred unmap is a task the scheduler runs', () => {
  const raceRuns = (cfg: ReturnType<typeof cfgOf>, sc: (typeof RACE_SCENARIOS)[number], numRuns: number) =>
    fc.check(fc.asyncProperty(raceScheduler(), async (s) => (await race(cfg, sc.prefix, sc.a, sc.b, s)).real.k.log.violations.length === 0), { seed: 9, numRuns });

  it('mainline port, every race scenario: no deadlock, nothing else either', async () => {
    for (const sc of RACE_SCENARIOS) {
      const out = await raceRuns(cfgOf(vfioPciMainline), sc, budget(15));
      expect(out.failed, `${sc.name}: ${String(out.errorInstance)}`).toBe(false);
    }
  });

  it('mainline port, revoke racing an unmap of the mapping it waits for: never blocked', async () => {
    const sc = { name: 'unmap racing revoke', prefix: MAPPED, a: { op: 'unmap', att: 0 } as LcCmd, b: ev('mem-off') };
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(vfioPciMainline), sc.prefix, sc.a, sc.b, s);
      return !r.results.includes('blocked') && r.real.k.log.violations.length === 0;
    }), { seed: 4, numRuns: budget(30) });
    expect(out.failed).toBe(false);
  });

  it('bug:rev-drain-no-wait is reported in a race (detach racing FLR): the reset goes on under a live mapping', async () => {
    const sc = { name: 'FLR with a late importer', prefix: MAPPED, a: { op: 'map', att: 0 } as LcCmd, b: ev('flr') };
    let rules: string[] = [];
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      rules = (await race(cfgOf(revDrainNoWait), sc.prefix, sc.a, sc.b, s)).real.k.log.violations.map((v) => v.rule);
      return rules.length === 0;
    }), { seed: 4, numRuns: budget(30) });
    expect(out.failed).toBe(true);
    expect(rules).toContain('REV-WINDOW');
  });
});

describe('the lifecycle target finds the seeded bug through the default mainline importers', () => {
  it('bug:rev-drain-no-wait -> REV-WINDOW; vfio-pci:mainline -> nothing new', async () => {
    const [bugTarget] = lifecycleSuite.targets(revDrainNoWait, []);
    const s = await bugTarget!.search(1, budget(40), new Set());
    expect(s.failures.flatMap((f) => f.violations.map((v) => v.rule))).toContain('REV-WINDOW');
  });
});
