import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { conversionCaseArb } from '../src/gen/ranges.ts';
import { matchConverterLeak } from '../src/bugs/match-converter-leak.ts';
import { checkConvert, CORE_CONVERTERS } from '../src/rules/match-convert.ts';
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
});
