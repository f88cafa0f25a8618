import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bundledExporters, dmaImporter, iommufdImporter, vfioPci } from '../src/harness/bundled.ts';
import type { LifecycleConfig } from '../src/harness/lifecycle.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { RACE_SCENARIOS, race, raceScheduler } from '../src/harness/race.ts';
import { budget } from './budget.ts';

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
    const bug = bundledExporters().find((p) => p.name === 'bug:uaf-cleanup-ignores-dying')!;
    const [, prefix, a, b] = RACES[0]!;
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      return !r.real.k.log.has('UAF-DYING');
    }), { numRuns: 500, seed: 1 });
    expect(out.failed).toBe(true);
  });

  it('bug:lock-release-resv-first deadlocks or inverts the lock order against cleanup', async () => {
    const bug = bundledExporters().find((p) => p.name === 'bug:lock-release-resv-first')!;
    const [, prefix, a, b] = RACES[0]!;
    const out = await fc.check(fc.asyncProperty(raceScheduler(), async (s) => {
      const r = await race(cfgOf(bug), prefix, a, b, s);
      return !r.real.k.log.has('LOCK-ORDER');
    }), { numRuns: 500, seed: 1 });
    expect(out.failed).toBe(true);
  });
});
