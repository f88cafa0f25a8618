// A conversion plugin written from scratch against the package entry (src/index.ts): the scatterlist API,
// struct dma_iova_state and dma_use_iova(), the DMA API entry points dma_buf_phys_vec_to_sgt() calls, the
// p2pdma route, the resv assertion. A new user could not write one: the entry exported none of them, and
// their my-sgt.ts had to be a MainlineOps variant reading state.__size.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as entry from '../src/index.ts';
import { conversionCaseArb, hugeConversionCaseArb } from '../src/gen/ranges.ts';
import { onPlatform } from '../src/harness/suite.ts';
import { ConversionKernel, runConversion, type ConversionCase } from '../src/rules/conversion.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, unexplained } from '../src/rules/conversion-impls.ts';
import example, { sgtConversion } from '../examples/plugins/sgt-conversion.ts';
import buggy from '../test/fixtures/sgt-conversion-bug.ts';
import { budget } from './budget.ts';

const cases = fc.oneof({ weight: 8, arbitrary: conversionCaseArb() }, { weight: 1, arbitrary: hugeConversionCaseArb });
const found = (impl: entry.ConversionPlugin, c: ConversionCase) => unexplained(impl.limit, c, runConversion({ ...impl, name: impl.name }, c).log.violations);

describe('the package entry gives a conversion author the kernel calls dma_buf_phys_vec_to_sgt() makes', () => {
  it('exports the scatterlist API, the IOVA state, the DMA API entry points, the p2pdma route and errnoName', () => {
    for (const name of ['newSgTable', 'sg_alloc_table', 'sg_free_table', 'sg_at', 'dma_use_iova', 'newIovaState', 'dma_map_phys', 'dma_mapping_error', 'dma_unmap_phys',
      'dma_iova_try_alloc', 'dma_iova_link', 'dma_iova_sync', 'dma_iova_destroy', 'pci_p2pdma_map_type', 'pci_p2pdma_bus_addr_map', 'dma_resv_assert_held', 'errnoName', 'divRoundUp'] as const) {
      expect(typeof entry[name], name).toBe('function');
    }
    expect(entry.SG_MAX_SINGLE_ALLOC).toBe(128);
    // Nothing that judges or that a plugin could turn the checks off with: the conversion kernel, the checkers.
    for (const internal of ['ConversionKernel', 'runConversion', 'checkTable', 'PluginSiteLog', 'ViolationLog']) expect(internal in entry, internal).toBe(false);
  });

  it('each documents shapes, units, errors and the kernel source it mirrors', () => {
    const api = readFileSync(new URL('../src/kernel/conversion-api.ts', import.meta.url), 'utf8');
    for (const fn of ['dma_map_phys', 'dma_mapping_error', 'dma_unmap_phys', 'dma_iova_try_alloc', 'dma_iova_link', 'dma_iova_sync', 'dma_iova_destroy', 'pci_p2pdma_map_type', 'pci_p2pdma_bus_addr_map', 'dma_resv_assert_held']) {
      const doc = new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*export function ${fn}\\(`).exec(api)?.[1] ?? '';
      expect(doc, fn).toMatch(new RegExp(`${fn}\\(`));
      expect(doc, fn).toMatch(/\((?:kernel|drivers|include)\/[\w/-]+\.[ch]\)/);
    }
    const sg = readFileSync(new URL('../src/kernel/scatterlist.ts', import.meta.url), 'utf8');
    expect(sg).toMatch(/sg_alloc_table\(table, nents, GFP_KERNEL\) \(lib\/scatterlist\.c\)[\s\S]*-EINVAL for 0 entries, -ENOMEM/);
  });

  it("its DMA calls are the simulated kernel's checked services, and errnoName() names a kernel int", () => {
    const c = fc.sample(conversionCaseArb(), { numRuns: 1, seed: 3 })[0]!;
    const k = new ConversionKernel(c);
    entry.dma_unmap_phys(k, 0x1000n, 0x1000n, 'DMA_BIDIRECTIONAL');
    expect(k.log.violations.map((v) => [v.rule, v.evidence?.['kind']])).toEqual([['DMA-UNMAP', 'never-mapped']]);
    const state = entry.newIovaState();
    expect(entry.dma_use_iova(state)).toBe(false);
    expect(entry.errnoName(-12)).toBe('-ENOMEM');
    expect(entry.errnoName(-17)).toBe('-EEXIST');
    expect(entry.errnoName(-4242)).toBe('-EINVAL');
  });
});

describe('examples/plugins/sgt-conversion.ts, written only against the entry', () => {
  it('imports nothing but dmabuf-conform', () => {
    const src = readFileSync(new URL('../examples/plugins/sgt-conversion.ts', import.meta.url), 'utf8');
    expect([...src.matchAll(/^import[\s\S]*?from '([^']+)';/gm)].map((m) => m[1])).toEqual(['dmabuf-conform']);
  });

  it('passes the conversion suite: no violation on any generated case, any machine', () => {
    fc.assert(fc.property(onPlatform(cases, undefined), (c) => {
      expect(found(example, c)).toEqual([]);
    }), { numRuns: budget(400), seed: 5 });
  });

  it('agrees with the bundled mainline port where that port has no documented finding', () => {
    fc.assert(fc.property(conversionCaseArb(), (c) => {
      const port = runConversion(MAINLINE_PHYS_VEC_TO_SGT, c);
      const mine = runConversion({ ...example, name: example.name }, c);
      if (port.log.violations.length === 0) expect(mine.result).toEqual(port.result);
    }), { numRuns: budget(200), seed: 9 });
  });

  it('with the user\'s DIV_ROUND_UP mistake ((len + max) / max) it is caught: one entry too many', () => {
    expect(buggy.name).toBe(sgtConversion({ bug: 'nents-round-up' }).name);
    const out = fc.check(fc.property(onPlatform(cases, undefined), (c) => found(buggy, c).length === 0), { numRuns: 3000, seed: 11 });
    expect(out.failed).toBe(true);
    const rules = found(buggy, out.counterexample![0]).map((v) => v.rule);
    expect(rules.some((r) => r === 'LEN-NENTS' || r === 'LEN-SEG' || r === 'LEN-ADDR')).toBe(true);
  });
});
