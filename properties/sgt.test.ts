import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { onPlatform } from '../src/harness/suite.ts';
import { expectedConversion, firstDifference, maxSegmentSize, split, tableEntries } from '../models/sgt.ts';
import { UINT_MAX } from '../models/u64.ts';
import { conversionCaseArb, hugeConversionCaseArb, manyRangesCaseArb } from '../src/gen/ranges.ts';
import { faultPoints, resultRule, runConversion, type ConversionCase } from '../src/rules/conversion.ts';
import { CONVERSION_FINDINGS, MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP, unexplained } from '../src/rules/conversion-impls.ts';
import { CONVERSION_BUGS } from '../src/bugs/index.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';

const NONE = { allocFails: [], syncFails: false, iovaRefused: false };
const GiB = 1n << 30n;

function caseOf(phys: { paddr: bigint; len: bigint }[], more: Partial<ConversionCase> = {}): ConversionCase {
  return { phys, size: phys.reduce((s, p) => s + p.len, 0n), route: 'THRU_HOST_BRIDGE', busOffset: 0n, pageSize: 4096n, faults: NONE, dir: 'DMA_TO_DEVICE', ...more };
}

describe('LEN/DMA: the faithful ports break rules only where a documented finding says so', () => {
  for (const impl of [V8_DMA_BUF_MAP, MAINLINE_PHYS_VEC_TO_SGT]) {
    it(`${impl.name}: model == port, every LEN and DMA rule, nothing live after free`, () => {
      fc.assert(fc.property(fc.oneof({ weight: 8, arbitrary: conversionCaseArb() }, { weight: 1, arbitrary: hugeConversionCaseArb }), (c) => {
        expect(unexplained(impl.limit, c, runConversion(impl, c).log.violations)).toEqual([]);
      }), { numRuns: budget(300) });
    });
  }

  it('thousands of ranges convert exactly (mainline)', () => {
    fc.assert(fc.property(manyRangesCaseArb(), (c) => {
      const out = runConversion(MAINLINE_PHYS_VEC_TO_SGT, c);
      expect(unexplained(MAINLINE_PHYS_VEC_TO_SGT.limit, c, out.log.violations)).toEqual([]);
      expect(out.result).toBe('ok');
    }), { numRuns: budget(5) });
  });
});

describe('LEN/DMA: every seeded bug is caught by its own rule', () => {
  for (const bug of CONVERSION_BUGS) {
    it(`${bug.name} is caught as ${bug.bugOf}`, () => {
      // Each case on a machine fast-check chooses (IOMMU flavour, dma_map_phys path), as self-test searches.
      const arb = onPlatform(bug.bugOf === 'LEN-NENTS' ? hugeConversionCaseArb : conversionCaseArb(), undefined);
      const out = fc.check(fc.property(arb, (c) => !unexplained(MAINLINE_PHYS_VEC_TO_SGT.limit, c, runConversion(bug, c).log.violations).some((v) => v.rule === bug.bugOf)), { numRuns: 3000, seed: 11 });
      expect(out.failed).toBe(true);
      const [c] = out.counterexample!;
      expect(runConversion(bug, c).log.rules()).toContain(bug.bugOf as RuleId);
      expect(c.phys.length).toBeLessThanOrEqual(3);
    });
  }
});

describe('LEN: the model (hand-worked)', () => {
  it('splits at the profile limit: UINT_MAX in v8, ALIGN_DOWN(UINT_MAX, PAGE_SIZE) in mainline', () => {
    expect(maxSegmentSize('uint-max', 4096n)).toBe(UINT_MAX);
    expect(maxSegmentSize('page-aligned', 4096n)).toBe(0xfffff000n);
    expect(maxSegmentSize('page-aligned', 65536n)).toBe(0xffff0000n);
    expect(split(0x1000n, 9n * GiB, 0xfffff000n).map((s) => s.len)).toEqual([0xfffff000n, 0xfffff000n, 9n * GiB - 2n * 0xfffff000n]);
  });
  it('split is the plain definition: an entry at every multiple of max below len, max long or the rest', () => {
    const naive = (addr: bigint, len: bigint, max: bigint) => {
      const out: { addr: bigint; len: bigint }[] = [];
      for (let off = 0n; off < len; off += max) out.push({ addr: addr + off, len: len - off < max ? len - off : max });
      return out;
    };
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const case_ = fc.bigInt({ min: 1n, max: 1n << 33n }).chain((max) => fc.tuple(u64, fc.bigInt({ min: 0n, max: 40n * max }), fc.constant(max)));
    fc.assert(fc.property(case_, ([addr, len, max]) => {
      expect(split(addr, len, max)).toEqual(naive(addr, len, max));
    }), { numRuns: budget(100) });
    expect(split(0n, 0n, 1n)).toEqual([]);
  });
  it('firstDifference reads a table against spans: the first entry that differs, is missing or is extra', () => {
    const spans = [{ addr: 0x10000n, len: 0x3000n }, { addr: 0x80000n, len: 0x1000n }];
    const table = [{ addr: 0x10000n, len: 0x2000n }, { addr: 0x12000n, len: 0x1000n }, { addr: 0x80000n, len: 0x1000n }];
    expect(tableEntries(spans, 0x2000n)).toEqual(table);
    expect(firstDifference(table, spans, 0x2000n)).toBeNull();
    expect(firstDifference([table[0]!, { addr: 0x12000n, len: 0x2000n }, table[2]!], spans, 0x2000n)).toEqual({ index: 1, want: table[1] });
    expect(firstDifference(table.slice(0, 2), spans, 0x2000n)).toEqual({ index: 2, want: table[2] });
    expect(firstDifference([...table, table[2]!], spans, 0x2000n)).toEqual({ index: 3, want: undefined });
    expect(firstDifference([], [], 0x2000n)).toBeNull();
  });
  it('on BUS_ADDR a wrong or missing length is LEN-ADDR; ROUTE-BUSADDR is a wrong address of an entry whose length is right', () => {
    const tail = CONVERSION_BUGS.find((b) => b.name === 'bug:len-sum-drop-tail')!;
    const c: ConversionCase = { phys: [{ paddr: 0x10000n, len: 0x2000n }, { paddr: 0x40000n, len: 0x1000n }], size: 0x3000n, route: 'BUS_ADDR', busOffset: 0x1000000n, pageSize: 4096n, faults: { allocFails: [], syncFails: false, iovaRefused: false }, dir: 'DMA_BIDIRECTIONAL' };
    const rules = runConversion(tail, c).log.violations.map((v) => v.rule);
    expect(rules).toContain('LEN-ADDR');
    expect(rules).not.toContain('ROUTE-BUSADDR');
  });
  it('BUS_ADDR adds the bus offset per range; IOVA is one span; refused IOVA maps each range; others are -EINVAL', () => {
    const phys = [{ paddr: 0x10000n, len: 0x2000n }, { paddr: 0x40000n, len: 0x1000n }];
    const fp = { dmaAlloc: false, stateAlloc: false, sgAlloc: false, syncFails: false, iovaRefused: false };
    expect(expectedConversion(phys, 0x3000n, 'BUS_ADDR', fp, UINT_MAX, 0x1000000n, 0n)).toEqual({ ok: true, value: { path: 'bus-addr', spans: [{ addr: 0x1010000n, len: 0x2000n }, { addr: 0x1040000n, len: 0x1000n }], max: UINT_MAX, nents: 2 } });
    expect(expectedConversion(phys, 0x3000n, 'THRU_HOST_BRIDGE', fp, UINT_MAX, 0n, 0x100000000n)).toEqual({ ok: true, value: { path: 'iova', spans: [{ addr: 0x100000000n, len: 0x3000n }], max: UINT_MAX, nents: 1 } });
    expect(expectedConversion(phys, 0x3000n, 'THRU_HOST_BRIDGE', { ...fp, iovaRefused: true }, UINT_MAX, 0n, 0n)).toEqual({ ok: true, value: { path: 'per-range', spans: [{ addr: 0x10000n, len: 0x2000n }, { addr: 0x40000n, len: 0x1000n }], max: UINT_MAX, nents: 2 } });
    expect(expectedConversion(phys, 0x3000n, 'NOT_SUPPORTED', fp, UINT_MAX, 0n, 0n)).toEqual({ ok: false, errno: '-EINVAL' });
    expect(expectedConversion(phys, 0x3000n, 'UNKNOWN', fp, UINT_MAX, 0n, 0n)).toEqual({ ok: false, errno: '-EINVAL' });
    expect(expectedConversion(phys, 0x3000n, 'THRU_HOST_BRIDGE', { ...fp, syncFails: true }, UINT_MAX, 0n, 1n)).toEqual({ ok: false, errno: '-ENOMEM' });
  });
  it('65,536 ranges totalling 2^50 bytes convert in the model in well under 100 ms', () => {
    const phys = Array.from({ length: 65536 }, (_, i) => ({ paddr: BigInt(i) << 35n, len: 1n << 34n }));
    const fp = { dmaAlloc: false, stateAlloc: false, sgAlloc: false, syncFails: false, iovaRefused: true };
    const t0 = performance.now();
    const r = expectedConversion(phys, 1n << 50n, 'BUS_ADDR', fp, 0xfffff000n, 0n, 0n);
    const ms = performance.now() - t0;
    expect(r.ok && r.value.nents).toBe(65536 * 5);
    expect(ms).toBeLessThan(1000); // generous under coverage; the figure is in the closing note
  });
});

/** Each finding the model predicted, confirmed with a minimal counterexample. */
describe('FINDINGS: confirmed with the suite', () => {
  const shows = (implName: string, rule: RuleId, c: ConversionCase) => {
    const impl = implName === V8_DMA_BUF_MAP.name ? V8_DMA_BUF_MAP : MAINLINE_PHYS_VEC_TO_SGT;
    return runConversion(impl, c).log.violations.filter((v) => v.rule === rule);
  };

  it('iova-link-offset-zero: both ports link every range at IOVA offset 0 (overlapping links)', () => {
    const c = caseOf([{ paddr: 0x10000n, len: 0x1000n }, { paddr: 0x20000n, len: 0x1000n }]);
    for (const impl of [V8_DMA_BUF_MAP.name, MAINLINE_PHYS_VEC_TO_SGT.name]) {
      expect(shows(impl, 'DMA-IOVA', c).map((v) => v.message.split(':')[0])).toContain('link 0x0+0x1000 overlaps the link 0x0+0x1000');
    }
    // ...and a fast-check search shrinks to exactly two one-page ranges.
    const out = fc.check(fc.property(conversionCaseArb(), (x) => shows(MAINLINE_PHYS_VEC_TO_SGT.name, 'DMA-IOVA', x).length === 0), { seed: 3, numRuns: 2000 });
    expect(out.failed).toBe(true);
    expect(out.counterexample![0].phys.length).toBe(2);
  });

  it('v8-uint-max-segments: UINT_MAX segments are not page aligned past 4 GiB (v8 only)', () => {
    const c = caseOf([{ paddr: 0x100000000n, len: 4n * GiB + 4096n }], { route: 'BUS_ADDR' });
    expect(shows(V8_DMA_BUF_MAP.name, 'LEN-ALIGN', c).map((v) => v.message)).toEqual(['segment 0 0x100000000+0xffffffff is not PAGE_SIZE aligned', 'segment 1 0x1ffffffff+0x1001 is not PAGE_SIZE aligned']);
    expect(shows(MAINLINE_PHYS_VEC_TO_SGT.name, 'LEN-ALIGN', c)).toEqual([]);
  });

  it('v8-segment-address-wraps: the third UINT_MAX chunk of a > 8 GiB range points back into the second (v8 only)', () => {
    const c = caseOf([{ paddr: 0x100000000n, len: 9n * GiB }], { route: 'BUS_ADDR' });
    expect(shows(V8_DMA_BUF_MAP.name, 'ROUTE-BUSADDR', c)[0]!.message).toBe('segment 2 is 0x1fffffffe+0x40000002, the model says 0x2fffffffe+0x40000002 (bus-addr)');
    expect(shows(MAINLINE_PHYS_VEC_TO_SGT.name, 'ROUTE-BUSADDR', c)).toEqual([]);
  });

  it('v8-mapped-len-u32: a 4 GiB IOVA span gets a table of zero-length entries (v8 only)', () => {
    const c = caseOf([{ paddr: 0x100000000n, len: 2n * GiB }, { paddr: 0x200000000n, len: 2n * GiB }]);
    expect(shows(V8_DMA_BUF_MAP.name, 'LEN-SUM', c)[0]!.message).toBe('segments add up to 0x0, the dma-buf is 0x100000000');
    expect(shows(MAINLINE_PHYS_VEC_TO_SGT.name, 'LEN-SUM', c)).toEqual([]);
  });

  it('per-range-unmapped-in-pieces: one dma_map_phys of 5 GiB is unmapped as two entries (both ports)', () => {
    const c = caseOf([{ paddr: 0x100000000n, len: 5n * GiB }], { faults: { ...NONE, iovaRefused: true } });
    for (const impl of [V8_DMA_BUF_MAP.name, MAINLINE_PHYS_VEC_TO_SGT.name]) {
      const msgs = shows(impl, 'DMA-UNMAP', c).map((v) => v.message);
      expect(msgs[0]).toMatch(/^unmap of 0x100000000 with size 0xffff(f000|ffff), mapped with 0x140000000$/);
      expect(msgs[1]).toMatch(/which was never mapped$/);
    }
  });

  it('unwind-walks-unmapped-entries: when the 2nd map fails, the unwind unmaps the zeroed 2nd entry (both ports)', () => {
    const c = caseOf([{ paddr: 0x10000n, len: 0x1000n }, { paddr: 0x20000n, len: 0x1000n }], { faults: { ...NONE, iovaRefused: true, mapFailsAt: 1 } });
    for (const impl of [V8_DMA_BUF_MAP.name, MAINLINE_PHYS_VEC_TO_SGT.name]) {
      expect(shows(impl, 'DMA-UNMAP', c).map((v) => v.message)).toEqual(['unmap of 0x0+0x0, which was never mapped']);
    }
  });

  it('iova-leak-on-early-error: the IOVA space is never given back when sg_alloc_table fails (both ports)', () => {
    const c = caseOf([{ paddr: 0x10000n, len: 0x1000n }], { faults: { ...NONE, allocFails: ['sg_table'] } });
    for (const impl of [V8_DMA_BUF_MAP.name, MAINLINE_PHYS_VEC_TO_SGT.name]) {
      expect(shows(impl, 'DMA-UNWIND', c).map((v) => v.message)).toEqual(['1 IOVA allocation(s) still live after a failed conversion']);
    }
  });

  it('sgt-leak-orig-nents: sg_free_table() frees nothing once orig_nents is 0 (both ports, every successful map)', () => {
    const c = caseOf([{ paddr: 0x10000n, len: 0x1000n }], { route: 'BUS_ADDR' });
    for (const impl of [V8_DMA_BUF_MAP.name, MAINLINE_PHYS_VEC_TO_SGT.name]) {
      expect(shows(impl, 'DMA-UNWIND', c).map((v) => v.message)).toEqual(['1 scatterlist chunk(s) still allocated after dma_buf_free_sgt']);
    }
  });

  it('every documented finding has a rule in the registry and a port it applies to', () => {
    for (const f of CONVERSION_FINDINGS) expect(f.limits.length).toBeGreaterThan(0);
  });
});

describe('a wrong result names the rule of what the model says made the conversion fail', () => {
  const page = 4096n;
  const base: ConversionCase = { phys: [{ paddr: 0x10000n, len: page }, { paddr: 0x20000n, len: page }], size: 2n * page, route: 'THRU_HOST_BRIDGE', busOffset: 0n, pageSize: page, faults: { allocFails: [], syncFails: false, iovaRefused: true }, dir: 'DMA_BIDIRECTIONAL' };
  const ruleOf = (c: ConversionCase) => resultRule(c, expectedConversion(c.phys, c.size, c.route, faultPoints(c.faults), maxSegmentSize('page-aligned', page), c.busOffset, 0n), 'page-aligned');
  it.each<[string, Partial<ConversionCase>, string]>([
    ['an ignored dma_map_phys failure', { faults: { ...base.faults, mapFailsAt: 1 } }, 'DMA-ERRCHECK'],
    ['an ignored dma_iova_link failure', { faults: { ...base.faults, iovaRefused: false, linkFailsAt: 0 } }, 'DMA-IOVA'],
    ['an ignored dma_iova_sync failure', { faults: { ...base.faults, iovaRefused: false, syncFails: true } }, 'DMA-IOVA'],
    ['an ignored allocation failure', { faults: { ...base.faults, allocFails: ['sg_table'] } }, 'DMA-UNWIND'],
    ['an unroutable pair', { route: 'NOT_SUPPORTED' }, 'ROUTE-NOMAP'],
    ['a failure where the model succeeds', {}, 'LEN-NENTS'],
  ])('%s: %s', (_what, change, rule) => {
    expect(ruleOf({ ...base, ...change })).toBe(rule);
  });
});
