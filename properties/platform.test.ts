// Issue 13 item 3: the simulated machine (src/kernel/platform.ts). A link onto a
// linked IOVA is refused (ARM io-pgtable, -EEXIST), kept with a WARN (VT-d) or
// overwritten; dma_map_phys() is dma-direct or goes through dma-iommu (an IOVA per
// call). Finding 1 is shown with its consequence on each machine, finding 4 with
// its clean reproducer (one range of at least 4 GiB, no overlap involved).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { conversionCaseArb } from '../src/gen/ranges.ts';
import { DmaApi, EEXIST, newIovaState } from '../src/kernel/dma.ts';
import { NO_FAULTS } from '../src/kernel/faults.ts';
import { DMA_MAP_PATHS, IOMMU_FLAVOURS, describePlatform, platformOfSeed, type Platform } from '../src/kernel/platform.ts';
import { runConversion, type ConversionCase, type ConversionImpl } from '../src/rules/conversion.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP, explainConversion, unexplained } from '../src/rules/conversion-impls.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { parseRunArgs } from '../src/commands/run.ts';
import { UsageError } from '../src/commands/usage.ts';
import { runConformance, inProcess } from '../src/harness/runner.ts';
import { allTargets } from '../src/harness/targets.ts';
import { seededBugs } from '../src/bugs/index.ts';
import { bundledPlugins } from '../src/harness/bundled.ts';
import { budget } from './budget.ts';
import { renderHtml } from '../src/report/html.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { validateReport } from '../src/report/validate.ts';

const GiB = 1n << 30n;
const PAGE = 4096n;
const PLATFORMS: Platform[] = IOMMU_FLAVOURS.flatMap((iommu) => DMA_MAP_PATHS.map((dmaMap) => ({ iommu, dmaMap })));
const on = (iommu: Platform['iommu'], dmaMap: Platform['dmaMap'] = 'direct'): Platform => ({ iommu, dmaMap });

function caseOf(phys: { paddr: bigint; len: bigint }[], platform: Platform, more: Partial<ConversionCase> = {}): ConversionCase {
  return { phys, size: phys.reduce((s, p) => s + p.len, 0n), route: 'THRU_HOST_BRIDGE', busOffset: 0n, pageSize: PAGE, faults: NO_FAULTS, dir: 'DMA_TO_DEVICE', platform, ...more };
}
const kinds = (vs: readonly { rule: string; evidence?: Record<string, unknown> }[], rule = 'DMA-IOVA') => vs.filter((v) => v.rule === rule).map((v) => String(v.evidence?.['kind']));
/** Finding 8 (sgt-leak-orig-nents) shows on every successful map of both ports: left out where a test looks at others. */
const ORIG_NENTS = 'sgt-leak-orig-nents';
const others = (impl: typeof V8_DMA_BUF_MAP, c: ConversionCase, vs: readonly import('../src/rules/violation.ts').Violation[]) => {
  const by = explainConversion(impl.limit, c, vs);
  return vs.filter((_, i) => by[i] !== ORIG_NENTS);
};
const TWO_PAGES = [{ paddr: 0x10000n, len: 0x1000n }, { paddr: 0x20000n, len: 0x1000n }];

describe('the simulated IOMMU: a link onto a linked IOVA', () => {
  const linkTwice = (iommu: Platform['iommu']) => {
    const log = new ViolationLog();
    const dma = new DmaApi(log, PAGE, NO_FAULTS, true, on(iommu));
    const st = newIovaState();
    dma.dma_iova_try_alloc(st, 0n, 0x3000n);
    expect(dma.dma_iova_link(st, 0x10000n, 0n, 0x2000n, 'DMA_TO_DEVICE')).toBe(0);
    const ret = dma.dma_iova_link(st, 0x40000n, 0x1000n, 0x2000n, 'DMA_TO_DEVICE');
    return { log, dma, st, ret, links: [...dma.iovas.values()][0]!.links.map((l) => [l.offset, l.size, l.phys]) };
  };

  it('refuse (ARM io-pgtable): -EEXIST, WARN, nothing of the second link is mapped', () => {
    const r = linkTwice('refuse');
    expect(r.ret).toBe(EEXIST);
    expect(r.links).toEqual([[0n, 0x2000n, 0x10000n]]);
    expect(r.log.violations.map((v) => [v.rule, v.evidence?.['kind'], v.evidence?.['iommu']])).toEqual([['DMA-IOVA', 'link-overlap', 'refuse']]);
  });

  it('keep (VT-d): succeeds, the set page keeps its old translation, the free page is mapped', () => {
    const r = linkTwice('keep');
    expect(r.ret).toBe(0);
    expect(r.links).toEqual([[0n, 0x2000n, 0x10000n], [0x2000n, 0x1000n, 0x41000n]]);
    expect(r.dma.iovaCoverage(r.st.alloc, 0n, 0x3000n).linked).toBe(true);
  });

  it('overwrite: succeeds, the new translation wins', () => {
    const r = linkTwice('overwrite');
    expect(r.ret).toBe(0);
    expect(r.links).toEqual([[0n, 0x2000n, 0x10000n], [0x1000n, 0x2000n, 0x40000n]]);
  });
});

describe('dma_map_phys through dma-iommu (iommu_dma_map_phys: an IOVA per call)', () => {
  it('hands out IOVAs, not physical addresses; the DMA-API debug checks still hold', () => {
    const log = new ViolationLog();
    const dma = new DmaApi(log, PAGE, NO_FAULTS, true, on('refuse', 'iommu'));
    const a = dma.dma_map_phys(0x10000n, 0x1000n, 'DMA_TO_DEVICE');
    const b = dma.dma_map_phys(0x10000n, 0x1000n, 'DMA_TO_DEVICE');
    expect(a).not.toBe(0x10000n);
    expect(b).not.toBe(a); // one IOVA per call, even for the same physical range
    expect(dma.translate(a + 0x10n)).toBe(0x10010n);
    expect(dma.dma_mapping_error(a)).toBe(0);
    dma.dma_unmap_phys(a, 0x1000n, 'DMA_FROM_DEVICE'); // wrong direction
    dma.dma_unmap_phys(a, 0x1000n, 'DMA_TO_DEVICE'); // double unmap
    dma.dma_unmap_phys(0x10000n, 0x1000n, 'DMA_TO_DEVICE'); // the physical address was never a DMA address here
    expect(log.violations.map((v) => `${v.rule}:${String(v.evidence?.['kind'] ?? '')}`)).toEqual(['DMA-UNMAP:wrong-dir', 'DMA-UNMAP:double-unmap', 'DMA-UNMAP:never-mapped']);
    expect(dma.live().mappings).toBe(1); // b leaks until unmapped
  });

  it('a page-offset physical address keeps its offset in the IOVA', () => {
    const dma = new DmaApi(new ViolationLog(), PAGE, NO_FAULTS, true, on('keep', 'iommu'));
    expect(dma.dma_map_phys(0x10234n, 0x100n, 'DMA_TO_DEVICE') % PAGE).toBe(0x234n);
  });

  it('the per-range fallback (IOVA allocation refused) is judged against where dma_map_phys put each range', () => {
    const c = caseOf(TWO_PAGES, on('overwrite', 'iommu'), { faults: { ...NO_FAULTS, iovaRefused: true } });
    for (const impl of [V8_DMA_BUF_MAP, MAINLINE_PHYS_VEC_TO_SGT]) {
      const out = runConversion(impl, c);
      expect(others(impl, c, out.log.violations)).toEqual([]);
      expect(out.segments.map((s) => s.addr).some((x) => x === 0x10000n || x === 0x20000n)).toBe(false);
    }
  });
});

describe('the faithful ports on every machine: only documented findings', () => {
  for (const impl of [V8_DMA_BUF_MAP, MAINLINE_PHYS_VEC_TO_SGT]) {
    it(`${impl.name}`, () => {
      fc.assert(fc.property(conversionCaseArb(), fc.constantFrom(...PLATFORMS), (c0, platform) => {
        const c = { ...c0, platform };
        expect(unexplained(impl.limit, c, runConversion(impl, c).log.violations)).toEqual([]);
      }), { numRuns: budget(60), seed: 5 });
    });
  }
});

describe('finding 1 (iova-link-offset-zero): the consequence on each IOMMU', () => {
  for (const impl of [V8_DMA_BUF_MAP, MAINLINE_PHYS_VEC_TO_SGT]) {
    it(`${impl.name}, refuse: the second link fails -EEXIST, the map fails (error path, nothing left live)`, () => {
      const c = caseOf(TWO_PAGES, on('refuse'));
      const out = runConversion(impl, c);
      expect(out.result).toBe('-EEXIST');
      expect(kinds(out.log.violations)).toEqual(['link-overlap', 'result']);
      expect(out.log.violations.some((v) => v.rule === 'DMA-UNWIND' || v.rule === 'DMA-LEAK')).toBe(false);
      expect(explainConversion(impl.limit, c, out.log.violations).every((id) => id === 'iova-link-offset-zero' || id === ORIG_NENTS)).toBe(true);
    });

    it(`${impl.name}, keep: the map succeeds with only range 0 reachable (range 1's data never is)`, () => {
      const c = caseOf(TWO_PAGES, on('keep'));
      const out = runConversion(impl, c);
      expect(out.result).toBe('ok');
      expect(kinds(out.log.violations)).toEqual(['link-overlap', 'link-offsets', 'unlinked', 'destroy-size']);
      expect(explainConversion(impl.limit, c, out.log.violations).every((id) => id === 'iova-link-offset-zero' || id === ORIG_NENTS)).toBe(true);
    });

    it(`${impl.name}, overwrite: range 1 overwrites range 0`, () => {
      const c = caseOf(TWO_PAGES, on('overwrite'));
      const out = runConversion(impl, c);
      expect(out.result).toBe('ok');
      expect(kinds(out.log.violations)).toEqual(['link-overlap', 'link-offsets', 'unlinked']);
      expect(explainConversion(impl.limit, c, out.log.violations).every((id) => id === 'iova-link-offset-zero' || id === ORIG_NENTS)).toBe(true);
    });
  }

  it('explains only what the faithful port shows on the same case: an unwind that destroys the whole size stays new', () => {
    // The third link fails; the faithful unwind destroys what it linked (mapped_len), this one the whole size.
    const c = caseOf([...TWO_PAGES, { paddr: 0x30000n, len: 0x1000n }], on('keep'), { faults: { ...NO_FAULTS, linkFailsAt: 2 } });
    const destroysSize: ConversionImpl = {
      ...MAINLINE_PHYS_VEC_TO_SGT, name: 'destroys-size',
      map: (k, a, p, phys, size, dir) => {
        const dma = Object.create(k.dma, { dma_iova_destroy: { value: (st: never, _mapped: bigint, d: never) => k.dma.dma_iova_destroy(st, size, d) } }) as typeof k.dma;
        return MAINLINE_PHYS_VEC_TO_SGT.map(Object.create(k, { dma: { value: dma } }) as typeof k, a, p, phys, size, dir);
      },
    };
    const faithful = runConversion(MAINLINE_PHYS_VEC_TO_SGT, c).log.violations;
    expect(unexplained(MAINLINE_PHYS_VEC_TO_SGT.limit, c, faithful)).toEqual([]);
    const buggy = runConversion(destroysSize, c).log.violations;
    const fresh = unexplained(destroysSize.limit, c, buggy);
    expect(fresh.map((v) => `${v.rule} ${String(v.evidence?.['kind'])}`)).toEqual(['DMA-IOVA destroy-size']);
    expect(fresh[0]!.message).toContain('dma_iova_destroy(0x3000)');
  });

  it('is keyed by exact behaviour: another machine\'s consequence is not excused', () => {
    const keep = caseOf(TWO_PAGES, on('keep'));
    const out = runConversion(MAINLINE_PHYS_VEC_TO_SGT, keep);
    // The same violations judged as if the machine refused: there the faithful port's map fails -EEXIST at the
    // second link, so none of what the keeping machine showed (its WARN, the unlinked span, the destroy, the table
    // its free leaks) is that finding's behaviour.
    const asRefuse = { ...keep, platform: on('refuse') };
    expect(unexplained(MAINLINE_PHYS_VEC_TO_SGT.limit, asRefuse, out.log.violations).map((v) => v.evidence?.['kind'])).toEqual(['link-overlap', 'link-offsets', 'unlinked', 'destroy-size', 'sg-table-leak']);
  });

  it('a single range never shows it, on any machine', () => {
    for (const p of PLATFORMS) {
      const c = caseOf([TWO_PAGES[0]!], p);
      expect(others(MAINLINE_PHYS_VEC_TO_SGT, c, runConversion(MAINLINE_PHYS_VEC_TO_SGT, c).log.violations)).toEqual([]);
    }
  });
});

describe('finding 4 (v8-mapped-len-u32): the clean reproducer is one range of at least 4 GiB', () => {
  for (const iommu of IOMMU_FLAVOURS) {
    it(`${iommu}: one 4 GiB + 4 KiB range, no overlap: the table adds up to 4 KiB (v8), mainline is clean`, () => {
      const c = caseOf([{ paddr: 0x100000000n, len: 4n * GiB + PAGE }], on(iommu));
      const v8 = runConversion(V8_DMA_BUF_MAP, c);
      expect(kinds(v8.log.violations)).not.toContain('link-overlap');
      expect(v8.log.violations.find((v) => v.rule === 'LEN-SUM')!.message).toBe('segments add up to 0x1000, the dma-buf is 0x100001000');
      expect(unexplained(V8_DMA_BUF_MAP.limit, c, v8.log.violations)).toEqual([]);
      expect(explainConversion(V8_DMA_BUF_MAP.limit, c, v8.log.violations)).toContain('v8-mapped-len-u32');
      expect(others(MAINLINE_PHYS_VEC_TO_SGT, c, runConversion(MAINLINE_PHYS_VEC_TO_SGT, c).log.violations)).toEqual([]);
    });
  }

  it('two 2 GiB ranges reach it only through the overlap: refused, the map fails before mapped_len wraps', () => {
    const c = caseOf([{ paddr: 0x100000000n, len: 2n * GiB }, { paddr: 0x200000000n, len: 2n * GiB }], on('refuse'));
    const out = runConversion(V8_DMA_BUF_MAP, c);
    expect(out.result).toBe('-EEXIST');
    expect(out.log.violations.some((v) => v.rule === 'LEN-SUM')).toBe(false);
  });
});

describe('the run chooses the machine and records it', () => {
  it('--iommu / --dma-map pin one machine (the other value the seed\'s), by default none is pinned, bad values one line', () => {
    expect(parseRunArgs(['--iommu', 'keep', '--dma-map', 'iommu']).platform).toEqual({ iommu: 'keep', dmaMap: 'iommu' });
    expect(parseRunArgs(['--seed', '7']).platform).toBeUndefined();
    expect(parseRunArgs(['--seed', '7', '--iommu', 'random', '--dma-map', 'random']).platform).toBeUndefined();
    expect(parseRunArgs(['--seed', '7', '--iommu', 'refuse']).platform).toEqual({ iommu: 'refuse', dmaMap: platformOfSeed(7).dmaMap });
    const seen = new Set(Array.from({ length: 40 }, (_, i) => JSON.stringify(platformOfSeed(i))));
    expect(seen.size).toBe(6); // every machine is some seed's
    expect(() => parseRunArgs(['--iommu', 'smmu'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--iommu', 'smmu'])).toThrow("--iommu: expected refuse, keep, overwrite or random, got 'smmu'");
    expect(() => parseRunArgs(['--dma-map', 'swiotlb'])).toThrow("--dma-map: expected direct, iommu or random, got 'swiotlb'");
    expect(describePlatform(on('refuse'))).toMatch(/^IOMMU refuse/);
  });

  it('report.platform, every counterexample input names it, and its replay runs on it', async () => {
    const bug = seededBugs().find((b) => b.plugin.name === 'bug:dma-iova-link-unchecked')!;
    const targets = allTargets([bug.plugin]);
    const platform = on('refuse', 'iommu');
    const { report } = await runConformance({ seed: 3, runs: 100, profiles: ['mainline'], platform, executor: inProcess(targets), baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined });
    expect(report.platform).toEqual(platform);
    expect(validateReport(JSON.parse(JSON.stringify(report))).ok).toBe(true);
    expect(renderHtml(report)).toContain('IOMMU refuse, dma_map_phys dma-iommu');
    expect(renderMarkdown(report)).toContain('IOMMU refuse, dma_map_phys dma-iommu');
    expect(report.violations.length).toBeGreaterThan(0);
    // A target checked by several parts wraps each input as { part, input }.
    for (const v of report.violations) expect((v.counterexample.input as { input: { platform?: Platform } }).input.platform).toEqual(platform);
    const hit = report.violations.find((v) => v.rule === 'DMA-IOVA')!;
    const again = await targets.find((t) => t.name === hit.implementation)!.replay(hit.counterexample.input);
    expect(again.violations.map((v) => v.message)).toContain(hit.message);
  });

  it('a run that pins no machine: every case draws one (lifecycle runs too), its input names it, and it replays on it', async () => {
    // A seed's one machine used to be the whole run's: a bug only one IOMMU shows went unseen in most runs.
    const targets = allTargets(bundledPlugins()).filter((t) => t.name === 'vfio-pci' || t.name === 'mainline:dma_buf_phys_vec_to_sgt');
    const { report } = await runConformance({ seed: 42, runs: 100, profiles: ['v8', 'mainline'], executor: inProcess(targets), baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined });
    expect(report.platform).toBeUndefined();
    expect(renderMarkdown(report)).toContain('every machine (drawn per case)');
    const platformOfCase = (v: (typeof report.violations)[number]): Platform | undefined => {
      const i = v.counterexample.input as { input?: { platform?: Platform }; platform?: Platform };
      return i.input?.platform ?? i.platform;
    };
    const drawn = (suite: string) => new Set(report.violations.filter((v) => v.counterexample.suite === suite).map((v) => JSON.stringify(platformOfCase(v))));
    expect(drawn('convert').size).toBeGreaterThan(1);
    expect(drawn('lifecycle').size).toBeGreaterThan(1);
    const hit = report.violations.find((v) => v.counterexample.suite === 'lifecycle' && platformOfCase(v) !== undefined)!;
    const again = await targets.find((t) => t.name === hit.implementation)!.replay(hit.counterexample.input);
    expect(again.violations.map((v) => v.message)).toContain(hit.message);
  });
});
