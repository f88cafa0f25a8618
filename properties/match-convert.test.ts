import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { conversionCaseArb } from '../src/gen/ranges.ts';
import { matchConverterLeak } from '../src/bugs/match-converter-leak.ts';
import { checkConvert, CORE_CONVERTERS } from '../src/rules/match-convert.ts';
import type { ConversionCase } from '../src/rules/conversion.ts';
import { DmaBufConverters } from '../src/impl/converters.ts';
import { dma_buf_phys_vec_to_sgt } from '../src/impl/dma-buf-mapping.ts';
import type { MappingKernel } from '../src/impl/dma-buf-mapping.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { budget } from './budget.ts';

describe('MATCH-CONVERT: the core converters equal the direct path (converter profile)', () => {
  it('PAL→SGT gives the segments of dma_buf_phys_vec_to_sgt and PAL→iommu_domain maps exactly the PAL with IOMMU_MMIO; revoke undoes both', () => {
    fc.assert(fc.property(conversionCaseArb({ maxRanges: 4 }), (c) => {
      const log = new ViolationLog();
      checkConvert(CORE_CONVERTERS, c, log);
      expect(log.violations).toEqual([]);
    }), { numRuns: budget(150), seed: 65 });
  });

  it(`${matchConverterLeak.name} → MATCH-CONVERT`, () => {
    const out = fc.check(fc.property(conversionCaseArb({ maxRanges: 4 }), (c) => {
      const log = new ViolationLog();
      checkConvert(matchConverterLeak, c, log);
      return !log.has('MATCH-CONVERT');
    }), { numRuns: 1000, seed: 7 });
    expect(out.failed).toBe(true);
    const log = new ViolationLog();
    checkConvert(matchConverterLeak, out.counterexample![0], log);
    expect(log.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^after revoke 1 IOMMU mapping\(s\) and 0 PAL\(s\) are still live$/)]);
  });

  it('a PAL→SGT converter that keeps the PAL when the conversion fails: MATCH-CONVERT says the map failed, not a revoke', () => {
    class KeepsPalOnFailure extends DmaBufConverters {
      override palToSgtMap(...args: Parameters<DmaBufConverters['palToSgtMap']>): ReturnType<DmaBufConverters['palToSgtMap']> {
        const [attach, provider, exp, size, dir] = args;
        const got = exp.map_phys();
        if (!got.ok) return got;
        const r = dma_buf_phys_vec_to_sgt(this.k, attach, provider(), this.k.heap.use(got.pal, 'dma_buf_pal_to_sgt'), size, dir);
        return r.ok ? { ok: true, conv: { pal: got.pal, dma: r.dma } } : r; // the PAL is not given back on failure
      }
    }
    const leaky = { name: 'keeps-pal-on-failure', make: (k: MappingKernel) => new KeepsPalOnFailure(k) };
    // NOT_SUPPORTED cannot be mapped: the conversion fails -EINVAL.
    const c: ConversionCase = { phys: [{ paddr: 0x10000n, len: 0x1000n }], size: 0x1000n, route: 'NOT_SUPPORTED', busOffset: 0n, pageSize: 4096n, faults: { allocFails: [], syncFails: false, iovaRefused: false }, dir: 'DMA_BIDIRECTIONAL' };
    const log = new ViolationLog();
    checkConvert(leaky, c, log);
    expect(log.violations.map((v) => v.message)).toEqual(['after a failed map (-EINVAL) PAL→SGT leaves {"mappings":0,"iovas":0,"objects":["pal"]}, the direct path leaves {"mappings":0,"iovas":0,"objects":[]}']);
    const clean = new ViolationLog();
    checkConvert(CORE_CONVERTERS, c, clean);
    expect(clean.violations).toEqual([]);
  });
});
