import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dmaImporter, iommufdImporter, vfioPci } from '../src/harness/bundled.ts';
import type { LifecycleConfig } from '../src/harness/lifecycle.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { RACE_SCENARIOS, onMachine, race, raceMachineArb, raceScheduler } from '../src/harness/race.ts';
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
